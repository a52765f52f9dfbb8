"""Change freezes and thaws across many pipelines on the offline engine."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pytest

from pipepilot.errors import RequestValidationError
from pipepilot.fleet import Tagged, shared_limiter
from pipepilot.freeze import FreezeOutcome, FreezeRecord, ThawOutcome, freeze, thaw

from .offline_world import World, call_counter, deploy, local_time_zone, s3_source, stage

if TYPE_CHECKING:
    from pipepilot.model.runtime import TransitionState
    from pipepilot.pipelines import Pipeline

REASON = "Holiday freeze (INC-7)"


def small(world: World, name: str, *, tags: dict[str, str] | None = None, prod: bool = True) -> Pipeline:
    """Source -> Prod (or Source -> Staging when ``prod`` is False); the creation run is left alone."""
    last = "Prod" if prod else "Staging"
    return world.create(
        name,
        [
            stage("Source", s3_source()),
            stage(last, {**deploy(last), "inputArtifacts": [{"name": "SourceOutput"}]}),
        ],
        tags=tags,
        settle=False,
    )


def prod_gate(world: World, name: str) -> TransitionState:
    state = world.cp.pipeline(name).stage("Prod").inbound.state()
    assert state is not None
    return state


def test_freeze_by_names_records_only_what_it_changed(world: World) -> None:
    """Enabled transitions are disabled and recorded; one already disabled is noted and kept as it was."""
    for name in ("a", "b", "c"):
        small(world, name)
    world.cp.pipeline("b").stage("Prod").inbound.disable("Incident 7")
    record = world.cp.freeze(["a", "b", "c"], stage="Prod", reason=REASON)
    assert record.disabled == ("a", "c")
    assert record.already_disabled == ("b",)
    assert record.complete
    assert record.entry("b").reason == "Incident 7"
    assert record.entry("a").reason == REASON
    assert record.entry("a").changed_at == prod_gate(world, "a").last_changed_at
    assert prod_gate(world, "b").disabled_reason == "Incident 7"
    assert all(prod_gate(world, name).enabled is False for name in "abc")

    thawed = world.cp.thaw(record)
    assert thawed.thaw_outcomes(ThawOutcome.ENABLED) == ("a", "c")
    assert thawed.entry("b").thaw is None
    assert thawed.thawed
    assert prod_gate(world, "a").enabled is True
    assert prod_gate(world, "c").enabled is True
    assert prod_gate(world, "b").enabled is False
    assert prod_gate(world, "b").disabled_reason == "Incident 7"


def test_the_module_functions_take_the_facade(world: World) -> None:
    """freeze(cp, ...) and thaw(cp, record) are the same operations as cp.freeze and cp.thaw."""
    small(world, "a")
    record = freeze(world.cp, ["a"], stage="Prod", reason=REASON)
    assert record.disabled == ("a",)
    assert thaw(world.cp, record).thaw_outcomes(ThawOutcome.ENABLED) == ("a",)
    assert prod_gate(world, "a").enabled is True


def test_freeze_by_pattern(world: World) -> None:
    """A name pattern selects the matching pipelines only."""
    for name in ("web-eu", "web-us", "api"):
        small(world, name)
    record = world.cp.freeze("web-*", stage="Prod", reason=REASON)
    assert record.disabled == ("web-eu", "web-us")
    assert prod_gate(world, "api").enabled is True


def test_freeze_by_tags(world: World) -> None:
    """Tags select the pipelines carrying all of them (a None value matches any value)."""
    small(world, "pay-1", tags={"team": "payments", "tier": "gold"})
    small(world, "pay-2", tags={"team": "payments"})
    small(world, "search", tags={"team": "search", "tier": "gold"})
    assert world.cp.freeze(Tagged({"team": "payments"}), stage="Prod", reason=REASON).disabled == (
        "pay-1",
        "pay-2",
    )
    gold = world.cp.freeze({"tier": None}, stage="Prod", reason=REASON)
    assert gold.disabled == ("search",)
    assert gold.already_disabled == ("pay-1",)


def test_thaw_leaves_alone_what_changed_since(world: World) -> None:
    """Re-disabled by someone (another reason, or the same reason later) stays; re-enabled is noted."""
    for name in ("a", "b", "c", "d"):
        small(world, name)
    record = world.cp.freeze(["a", "b", "c", "d"], stage="Prod", reason=REASON)
    world.aws.clock.advance(3600)
    world.cp.pipeline("a").stage("Prod").inbound.disable("Incident 9")
    world.cp.pipeline("b").stage("Prod").inbound.enable()
    world.cp.pipeline("c").stage("Prod").inbound.enable()
    world.aws.clock.advance(60)
    world.cp.pipeline("c").stage("Prod").inbound.disable(REASON)  # same words, another change

    thawed = world.cp.thaw(record)
    assert thawed.entry("a").thaw is ThawOutcome.CHANGED
    assert "Incident 9" in str(thawed.entry("a").thaw_note)
    assert thawed.entry("b").thaw is ThawOutcome.ALREADY_ENABLED
    assert thawed.entry("c").thaw is ThawOutcome.CHANGED
    assert thawed.entry("d").thaw is ThawOutcome.ENABLED
    assert prod_gate(world, "a").disabled_reason == "Incident 9"
    assert prod_gate(world, "c").enabled is False
    assert prod_gate(world, "d").enabled is True


def test_freeze_and_thaw_are_idempotent(world: World) -> None:
    """Thawing a thawed record does nothing more; resuming a complete freeze sends no writes."""
    for name in ("a", "b"):
        small(world, name)
    record = world.cp.freeze(["a", "b"], stage="Prod", reason=REASON)
    again = world.cp.freeze(["a", "b"], stage="Prod", reason=REASON, resume=record)
    assert again == record
    thawed = world.cp.thaw(record)
    assert world.cp.thaw(thawed) == thawed
    assert all(prod_gate(world, name).enabled is True for name in "ab")


def test_the_record_round_trips_through_json(world: World) -> None:
    """to_json/from_json give back an equal record; the JSON is plain data."""
    for name in ("a", "b"):
        small(world, name)
    world.cp.pipeline("b").stage("Prod").inbound.disable("Incident 7")
    record = world.cp.thaw(world.cp.freeze(["a", "b"], stage="Prod", reason=REASON))
    text = record.to_json()
    data = json.loads(text)
    assert data["format"] == "pipepilot.freeze/1"
    assert [entry["outcome"] for entry in data["pipelines"]] == ["disabled", "already-disabled"]
    assert FreezeRecord.from_json(text) == record
    assert FreezeRecord.from_dict(record.to_dict()) == record


def test_record_times_are_utc_whatever_the_local_time_zone(world: World) -> None:
    """A freeze record holds (and writes) its times in UTC, though botocore reads them into the local zone,
    and the freeze it describes still thaws."""
    with local_time_zone("IST-05:30"):
        small(world, "a")
        record = world.cp.freeze(["a"], stage="Prod", reason=REASON)
        changed_at = record.entry("a").changed_at
        assert changed_at is not None
        assert changed_at.tzinfo is timezone.utc
        assert changed_at == prod_gate(world, "a").last_changed_at
        assert record.started_at.tzinfo is timezone.utc
        data = record.to_dict()
        assert data["started_at"].endswith("+00:00")
        assert data["pipelines"][0]["changed_at"].endswith("+00:00")
        assert world.cp.thaw(FreezeRecord.from_dict(data)).thaw_outcomes(ThawOutcome.ENABLED) == ("a",)


def test_a_record_read_from_another_zone_is_held_in_utc() -> None:
    """Times written with another offset (or none: taken as UTC) are read back as the same UTC instants."""
    data = {
        "format": "pipepilot.freeze/1",
        "id": "x",
        "stage": "Prod",
        "reason": "r",
        "started_at": "2026-01-01T05:30:00+05:30",
        "pipelines": [{"pipeline": "a", "outcome": "disabled", "changed_at": "2026-01-01T00:01:00"}],
    }
    record = FreezeRecord.from_dict(data)
    assert record.started_at == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert record.started_at.tzinfo is timezone.utc
    assert record.entry("a").changed_at == datetime(2026, 1, 1, 0, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("not json", "must be JSON"),
        ("[]", "JSON object"),
        ('{"format": "other"}', "not a freeze record"),
        ('{"format": "pipepilot.freeze/1", "pipelines": {}}', "pipelines must be a list"),
        (
            '{"format": "pipepilot.freeze/1", "id": "x", "stage": "Prod", "reason": "r", '
            '"started_at": "2026-01-01T00:00:00+00:00", "pipelines": [{"pipeline": "a", "outcome": "melted"}]}',
            "outcome must be one of",
        ),
        (
            '{"format": "pipepilot.freeze/1", "id": "x", "stage": "Prod", "reason": "r", '
            '"started_at": "yesterday", "pipelines": []}',
            "ISO 8601",
        ),
        (
            '{"format": "pipepilot.freeze/1", "id": "x", "stage": "Prod", "reason": "r", '
            '"started_at": "2026-01-01T00:00:00+00:00", "pipelines": '
            '[{"pipeline": "a", "outcome": "pending"}, {"pipeline": "a", "outcome": "pending"}]}',
            "listed twice",
        ),
    ],
)
def test_a_bad_record_is_refused_clearly(text: str, fragment: str) -> None:
    """from_json raises ValueError saying what is wrong."""
    with pytest.raises(ValueError, match=fragment):
        FreezeRecord.from_json(text)


def test_a_bad_reason_is_refused_before_anything_changes(world: World) -> None:
    """The reason is checked first; no transition changes and no record is made."""
    small(world, "a")
    with pytest.raises(RequestValidationError, match="','"):
        world.cp.freeze(["a"], stage="Prod", reason="freeze, please")
    assert prod_gate(world, "a").enabled is True


def test_resume_refuses_a_record_of_another_freeze(world: World) -> None:
    """A record of another stage or reason cannot be resumed as this freeze."""
    small(world, "a")
    record = world.cp.freeze(["a"], stage="Prod", reason=REASON)
    with pytest.raises(ValueError, match="cannot resume"):
        world.cp.freeze(["a"], stage="Prod", reason="Other reason", resume=record)


class Crash(Exception):
    """The process 'dies' inside the checkpoint callback."""


def test_a_crash_midway_is_resumed_without_losing_a_change(world: World) -> None:
    """Saved checkpoints plus resume: transitions disabled by the lost run are recognised as the freeze's."""
    names = [f"svc-{i}" for i in range(8)]
    for name in names:
        small(world, name)
    saved: list[str] = []

    def checkpoint(record: FreezeRecord) -> None:
        if len(saved) == 3:  # the initial record and two pipelines were saved
            raise Crash
        saved.append(record.to_json())

    with pytest.raises(Crash):
        world.cp.freeze(names, stage="Prod", reason=REASON, checkpoint=checkpoint, max_workers=4)
    last = FreezeRecord.from_json(saved[-1])
    assert len(last.disabled) == 2
    assert last.pending  # the rest were not recorded ...
    disabled_now = [name for name in names if prod_gate(world, name).enabled is False]
    assert len(disabled_now) > 2  # ... although more were disabled before the crash

    resumed = world.cp.freeze(names, stage="Prod", reason=REASON, resume=last)
    assert resumed.complete
    assert sorted(resumed.disabled) == names
    assert resumed.id == last.id
    thawed = world.cp.thaw(resumed)
    assert thawed.thaw_outcomes(ThawOutcome.ENABLED) == tuple(names)
    assert all(prod_gate(world, name).enabled is True for name in names)


def test_a_crash_during_thaw_is_resumed(world: World) -> None:
    """Thawing the last saved record again finishes the thaw; those already enabled count as done."""
    names = [f"svc-{i}" for i in range(5)]
    for name in names:
        small(world, name)
    record = world.cp.freeze(names, stage="Prod", reason=REASON)
    saved: list[FreezeRecord] = []

    def checkpoint(current: FreezeRecord) -> None:
        if len(saved) == 2:
            raise Crash
        saved.append(current)

    with pytest.raises(Crash):
        world.cp.thaw(record, checkpoint=checkpoint, max_workers=1)
    finished = world.cp.thaw(saved[-1])
    assert finished.thawed
    assert all(prod_gate(world, name).enabled is True for name in names)


def test_a_partial_failure_is_reported_per_pipeline_and_retried_on_resume(world: World) -> None:
    """A refused write and a missing stage fail their pipelines only; resume retries what can succeed."""
    for name in ("a", "b", "c"):
        small(world, name)
    small(world, "no-prod", prod=False)
    rule = world.aws.faults.add(operation="DisableStageTransition", error="AccessDeniedException", nth=2)
    record = world.cp.freeze(["a", "b", "c", "no-prod"], stage="Prod", reason=REASON)
    assert rule.fired == 1
    failed = {name: record.entry(name) for name in record.failed}
    assert len(failed) == 2
    assert failed["no-prod"].error_code == "NoSuchStageError"
    denied = [entry for name, entry in failed.items() if name != "no-prod"]
    assert denied[0].error_code == "AccessDeniedException"
    assert len(record.disabled) == 2

    resumed = world.cp.freeze(["a", "b", "c", "no-prod"], stage="Prod", reason=REASON, resume=record)
    assert resumed.disabled == ("a", "b", "c")
    assert resumed.failed == ("no-prod",)


def test_a_thaw_failure_is_kept_and_retried(world: World) -> None:
    """A thaw that fails for one pipeline records the error; thawing the result again finishes it."""
    for name in ("a", "b"):
        small(world, name)
    record = world.cp.freeze(["a", "b"], stage="Prod", reason=REASON)
    world.aws.faults.add(operation="EnableStageTransition", error="AccessDeniedException", nth=1)
    partial = world.cp.thaw(record, max_workers=1)
    assert len(partial.thaw_outcomes(ThawOutcome.FAILED)) == 1
    assert not partial.thawed
    done = world.cp.thaw(partial)
    assert done.thawed
    assert done.thaw_outcomes(ThawOutcome.ENABLED) == ("a", "b")


def test_freeze_paces_its_requests_on_the_virtual_clock(world: World) -> None:
    """At rate r, n requests take at least (n - 1) / r seconds of the (virtual) clock."""
    names = [f"svc-{i}" for i in range(6)]
    for name in names:
        small(world, name)
    stamps: list[float] = []
    world.cp.client.meta.events.register(
        "before-call.codepipeline", lambda **_: stamps.append(world.aws.clock.now())
    )
    world.cp.freeze(names, stage="Prod", reason=REASON, rate=2.0, max_workers=3)
    assert len(stamps) == 3 * len(names)
    assert stamps[-1] - stamps[0] >= (len(stamps) - 1) / 2.0 - 1e-6


@pytest.mark.slow
@pytest.mark.pipepilot_offline(speed=1.0)
def test_freeze_never_exceeds_the_rate_in_real_time(world: World) -> None:
    """In real time (speed 1), no window of one second holds more than rate + 1 requests."""
    names = [f"svc-{i}" for i in range(5)]
    for name in names:
        small(world, name)
    stamps: list[float] = []
    world.cp.client.meta.events.register(
        "before-call.codepipeline", lambda **_: stamps.append(world.aws.clock.now())
    )
    rate = 10.0
    record = world.cp.freeze(names, stage="Prod", reason=REASON, rate=rate, max_workers=5)
    assert record.complete
    stamps.sort()
    assert len(stamps) == 3 * len(names)
    assert stamps[-1] - stamps[0] >= (len(stamps) - 1) / rate - 0.05
    busiest = max(sum(1 for t in stamps if start <= t < start + 1.0) for start in stamps)
    assert busiest <= rate + 1


def test_freeze_and_thaw_slow_down_for_an_account_limit_instead_of_failing(world: World) -> None:
    """Against an account allowing 4 CodePipeline requests a second (all operations together), a freeze
    and a thaw with their defaults slow down when throttled and handle every pipeline."""
    names = [f"svc-{i}" for i in range(10)]
    for name in names:
        small(world, name)
    limit = world.aws.faults.add(service="codepipeline", error="ThrottlingException", above_rate=4)
    record = world.cp.freeze(names, stage="Prod", reason=REASON)
    assert record.complete
    assert record.disabled == tuple(names)
    thawed = world.cp.thaw(record)
    assert thawed.thawed
    assert limit.fired > 0
    assert shared_limiter(world.cp).slowdowns >= 1


def test_entries_are_pending_until_handled() -> None:
    """A fresh entry is PENDING; outcome names are stable strings for the JSON."""
    assert FreezeOutcome.PENDING.value == "pending"
    assert {o.value for o in ThawOutcome} == {"enabled", "already-enabled", "changed", "failed"}


@pytest.mark.parametrize(("workers", "rate"), [(0, 10.0), (4, 0.0)])
def test_bad_pool_options_are_refused_before_anything_happens(
    world: World, workers: int, rate: float
) -> None:
    """max_workers below 1 or a non-positive rate is a ValueError before any record is made or checkpointed,
    and no transition changes."""
    small(world, "a")
    saved: list[FreezeRecord] = []
    with pytest.raises(ValueError, match=r"max_workers|rate"):
        world.cp.freeze(
            ["a"], stage="Prod", reason=REASON, checkpoint=saved.append, max_workers=workers, rate=rate
        )
    assert saved == []
    assert prod_gate(world, "a").enabled is True


@pytest.mark.parametrize(
    "selection", ["nightly-*", Tagged({"team": "nobody"}), []], ids=["pattern", "tags", "empty"]
)
def test_a_selection_matching_no_pipeline_froze_nothing_and_is_not_complete(
    world: World, selection: Any
) -> None:
    """A pattern (or tags, or an empty list) matching no pipeline gives a record that says it froze nothing:
    no entries, nothing_selected, and complete is False."""
    small(world, "web")
    record = world.cp.freeze(selection, stage="Prod", reason=REASON)
    assert record.pipelines == ()
    assert record.nothing_selected
    assert not record.complete
    assert prod_gate(world, "web").enabled is True


def test_a_name_matching_no_pipeline_is_a_failure_not_complete(world: World) -> None:
    """A single name that does not exist is recorded as failed (PipelineNotFound): not complete."""
    record = world.cp.freeze("no-such-pipeline", stage="Prod", reason=REASON)
    assert record.failed == ("no-such-pipeline",)
    assert record.entry("no-such-pipeline").error_code == "PipelineNotFoundException"
    assert not record.complete
    assert not record.nothing_selected


@pytest.mark.parametrize(
    "fault", [{"error": "lost-response"}, {"error": "InternalFailure", "applied": True}], ids=["lost", "5xx"]
)
def test_a_disable_applied_without_an_answer_is_recorded_disabled_and_thawed(
    world: World, fault: dict[str, Any]
) -> None:
    """Every disable answered with an error after AWS applied it: the freeze reads the transition back and
    records it DISABLED (with AWS's author and time), sends no second disable, and thaw re-enables it."""
    for name in ("a", "b"):
        small(world, name)
    world.aws.faults.add(operation="DisableStageTransition", **fault)
    calls = call_counter(world.cp)
    record = world.cp.freeze(["a", "b"], stage="Prod", reason=REASON)
    assert record.disabled == ("a", "b")
    assert record.complete
    assert calls["DisableStageTransition"] == 2
    assert record.entry("a").changed_at == prod_gate(world, "a").last_changed_at
    world.aws.faults.clear()
    thawed = world.cp.thaw(record)
    assert thawed.thaw_outcomes(ThawOutcome.ENABLED) == ("a", "b")
    assert all(prod_gate(world, name).enabled is True for name in "ab")


def test_thaw_finds_a_disable_the_freeze_could_not_confirm(world: World) -> None:
    """When even the reading back fails, the entry is FAILED; thaw reads it, finds the freeze's own disable
    (its reason, changed since the record started) and re-enables it, correcting the record."""
    small(world, "a")
    world.aws.faults.add(operation="DisableStageTransition", error="lost-response", nth=1)
    # The freeze's first read passes; every later read fails, so nothing can confirm the disable.
    world.aws.faults.add(operation="GetPipelineState", error="ServiceUnavailable", nth=range(2, 200))
    record = world.cp.freeze(["a"], stage="Prod", reason=REASON)
    assert record.failed == ("a",)
    assert not record.complete
    world.aws.faults.clear()
    assert prod_gate(world, "a").enabled is False  # applied all the same
    thawed = world.cp.thaw(record)
    assert thawed.entry("a").outcome is FreezeOutcome.DISABLED
    assert thawed.entry("a").thaw is ThawOutcome.ENABLED
    assert thawed.thawed
    assert prod_gate(world, "a").enabled is True


def test_thaw_leaves_alone_what_the_freeze_failed_to_disable(world: World) -> None:
    """A FAILED entry whose transition is enabled, or disabled by someone else, is noted and not touched."""
    for name in ("a", "b", "c"):
        small(world, name)
    small(world, "no-prod", prod=False)
    world.aws.faults.add(operation="DisableStageTransition", error="AccessDeniedException", nth=(1, 2))
    record = world.cp.freeze(["a", "b", "c", "no-prod"], stage="Prod", reason=REASON, max_workers=1)
    assert record.failed == ("a", "b", "no-prod")
    world.cp.pipeline("b").stage("Prod").inbound.disable("Incident 9")
    thawed = world.cp.thaw(record)
    assert thawed.thawed
    for name in ("a", "b", "no-prod"):
        assert thawed.entry(name).outcome is FreezeOutcome.FAILED
        assert thawed.entry(name).thaw is None
        assert "nothing to thaw" in str(thawed.entry(name).thaw_note)
    assert prod_gate(world, "a").enabled is True
    assert prod_gate(world, "b").disabled_reason == "Incident 9"
    assert prod_gate(world, "c").enabled is True


@pytest.mark.parametrize(
    "fault", [{"error": "lost-response"}, {"error": "InternalFailure", "applied": True}], ids=["lost", "5xx"]
)
def test_thaw_recognises_its_own_enable_whose_answer_was_lost(world: World, fault: dict[str, Any]) -> None:
    """Every enable answered with an error after AWS applied it: thaw reads back, records ENABLED (not
    ALREADY_ENABLED) with a note that the answer was lost, and sends no second enable."""
    small(world, "a")
    record = world.cp.freeze(["a"], stage="Prod", reason=REASON)
    world.aws.faults.add(operation="EnableStageTransition", **fault)
    calls = call_counter(world.cp)
    thawed = world.cp.thaw(record)
    assert thawed.entry("a").thaw is ThawOutcome.ENABLED
    assert "answer was lost" in str(thawed.entry("a").thaw_note)
    assert calls["EnableStageTransition"] == 1
    assert prod_gate(world, "a").enabled is True


def test_a_thaw_whose_enable_could_not_be_confirmed_is_recognised_later(world: World) -> None:
    """When the reading back fails too, the thaw FAILED with the time it sent the enable; the next thaw
    finds the transition enabled since then and records ENABLED, not ALREADY_ENABLED."""
    small(world, "a")
    record = world.cp.freeze(["a"], stage="Prod", reason=REASON)
    world.aws.faults.add(operation="EnableStageTransition", error="lost-response", nth=1)
    world.aws.faults.add(operation="GetPipelineState", error="ServiceUnavailable", nth=range(2, 200))
    failed = world.cp.thaw(record)
    entry = failed.entry("a")
    assert entry.thaw is ThawOutcome.FAILED
    assert entry.thaw_sent_at is not None
    assert "may have been applied" in str(entry.thaw_error)
    assert not failed.thawed
    assert FreezeRecord.from_json(failed.to_json()) == failed
    world.aws.faults.clear()
    again = world.cp.thaw(failed)
    assert again.entry("a").thaw is ThawOutcome.ENABLED
    assert again.entry("a").thaw_sent_at is None
    assert again.thawed
