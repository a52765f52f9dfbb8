"""The World's EventBridge event log (``aws.events``): a compact sequence that reads as the events emitted."""

from __future__ import annotations

from typing import Any

import pytest

from pipepilot.local import EventLog
from pipepilot.local._events import BLOCK_EVENTS


def _event(number: int) -> dict[str, Any]:
    return {
        "version": "0",
        "detail-type": "CodePipeline Stage Execution State Change",
        "resources": ["arn:aws:codepipeline:us-east-1:123456789012:p"],
        "detail": {"n": number, "version": 1.0, "type": {"owner": "AWS"}, "artifacts": (), "url": None},
    }


def _log(count: int) -> EventLog:
    log = EventLog()
    for number in range(count):
        log.append(_event(number))
    return log


def test_reads_return_equal_fresh_dicts() -> None:
    """A read equals the event appended; changing the dict appended or read changes nothing in the log."""
    log = EventLog()
    event = _event(1)
    log.append(event)
    event["detail"]["n"] = 99
    read = log[0]
    assert read == _event(1)
    read["detail"]["n"] = 42
    assert log[0] == _event(1)
    assert log[0]["detail"]["artifacts"] == ()  # types kept: a tuple stays a tuple


@pytest.mark.parametrize("count", [0, 1, BLOCK_EVENTS - 1, BLOCK_EVENTS, 2 * BLOCK_EVENTS + 5])
def test_every_read_agrees_with_the_events_appended(count: int) -> None:
    """Iteration, indexing (negative too), slices, reversal, len and equality match a list of the events."""
    expected = [_event(number) for number in range(count)]
    log = _log(count)
    assert len(log) == count
    assert list(log) == expected
    assert log == expected
    assert [log[i] for i in range(-count, count)] == [expected[i] for i in range(-count, count)]
    assert log[1::3] == expected[1::3]
    assert list(reversed(log)) == expected[::-1]
    with pytest.raises(IndexError):
        log[count]


@pytest.mark.parametrize("dropped", [0, 1, BLOCK_EVENTS - 1, BLOCK_EVENTS, BLOCK_EVENTS + 7, 600, 700])
def test_drop_oldest_forgets_that_many_from_the_front(dropped: int) -> None:
    """drop_oldest(n) leaves the events after the n-th, across blocks and into the newest ones."""
    total = 2 * BLOCK_EVENTS + 20
    log = _log(total)
    log.drop_oldest(dropped)
    expected = [_event(number) for number in range(min(dropped, total), total)]
    assert list(log) == expected
    assert list(reversed(log)) == expected[::-1]
    assert [log[i] for i in range(len(expected))] == expected
    log.append(_event(total))
    assert log[-1] == _event(total)
    assert len(log) == len(expected) + 1


def test_memory_is_released_a_block_at_a_time_and_clear_empties() -> None:
    """Dropped events free their block once all of its events went; clear() forgets everything."""
    log = _log(10 * BLOCK_EVENTS)
    for _ in range(40):
        log.drop_oldest(len(log) - BLOCK_EVENTS)
        for number in range(BLOCK_EVENTS):
            log.append(_event(number))
    assert len(log) == 2 * BLOCK_EVENTS
    assert len(log._blocks) <= 3
    log.clear()
    assert len(log) == 0
    assert list(log) == []
    assert log == []


def test_an_event_marshal_cannot_hold_is_kept_as_json_would() -> None:
    """Values outside plain data (a set, an object) are kept as EventBridge's JSON would carry them."""
    log = EventLog()
    log.append({"detail": {"when": object, "tags": ["a"]}})
    assert log[0] == {"detail": {"when": str(object), "tags": ["a"]}}


def test_the_log_is_neither_hashable_nor_equal_to_other_things() -> None:
    """An EventLog compares with lists, tuples and logs only, and cannot be hashed (it changes)."""
    log = _log(2)
    assert log == tuple(_event(number) for number in range(2))
    assert log == _log(2)
    assert log != _log(3)
    assert log != {"0": _event(0)}
    with pytest.raises(TypeError):
        hash(log)
    assert repr(log) == "<EventLog: 2 events>"
