"""The World's EventBridge event log, kept compact: what ``aws.events`` returns.

An engine that runs all day emits ten events per execution of a two-stage pipeline; as dicts they cost
about 1 KB each, several times what the execution's own records do. The log keeps each event marshalled
(a snapshot taken when it is emitted) and compresses them in blocks of :data:`BLOCK_EVENTS`: events of
the same pipeline repeat almost everything, so a block shrinks about twelvefold. Reading materialises
fresh dicts, equal to the ones emitted.
"""

from __future__ import annotations

import json
import marshal
import threading
import zlib
from array import array
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["BLOCK_EVENTS", "EventLog"]

#: Events compressed together. Larger blocks compress better; reading one event decompresses its block.
BLOCK_EVENTS = 256
# A block's payload starts with the BLOCK_EVENTS + 1 offsets of its events' marshalled bytes.
_OFFSETS = array("I").itemsize * (BLOCK_EVENTS + 1)


class EventLog(Sequence[dict[str, Any]]):
    """The EventBridge events the engines emitted, oldest first, as envelopes (``aws.events``).

    A read-only sequence of dicts (index, slice, iterate, ``len``, compare with a list) that
    :meth:`clear` empties. Each read returns fresh dicts: changing one changes nothing in the log. The
    engines append with :meth:`append` and drop the oldest with :meth:`drop_oldest` (the World keeps the
    newest ``event_history_limit``). Safe to read from any thread while the engines append.
    """

    __hash__ = None  # type: ignore[assignment]  # it changes: equal to a list, hashable by nothing

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: Full blocks: zlib of the events' offsets, then their marshalled bytes.
        self._blocks: list[bytes] = []
        #: Events dropped from the front of the first block (which goes once all of its events have).
        self._dropped = 0
        #: Marshalled events not yet in a block.
        self._tail: list[bytes] = []
        #: The block read last, decompressed: (block, offsets, payload), so sequential reads decompress once.
        self._cache: tuple[bytes, array[int], bytes] | None = None

    # -- writing ----------------------------------------------------------------------------------------

    def append(self, event: dict[str, Any], /) -> None:
        """Add ``event`` (a snapshot of it: later changes to the dict are not seen) as the newest."""
        blob = _dump(event)
        with self._lock:
            self._tail.append(blob)
            if len(self._tail) == BLOCK_EVENTS:
                self._blocks.append(_seal(self._tail))
                self._tail = []

    def drop_oldest(self, count: int, /) -> None:
        """Forget the ``count`` oldest events (all of them if there are fewer)."""
        with self._lock:
            dropped = self._dropped + max(0, count)
            full = min(dropped // BLOCK_EVENTS, len(self._blocks))
            del self._blocks[:full]
            dropped -= full * BLOCK_EVENTS
            if not self._blocks:
                del self._tail[:dropped]
                dropped = 0
            self._dropped = dropped

    def clear(self) -> None:
        """Forget every event."""
        with self._lock:
            self._blocks, self._dropped, self._tail, self._cache = [], 0, [], None

    # -- reading ----------------------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            return len(self._blocks) * BLOCK_EVENTS - self._dropped + len(self._tail)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            blocks, dropped, tail = self._snapshot()
            count = len(blocks) * BLOCK_EVENTS - dropped + len(tail)
            return [self._read(blocks, dropped, tail, i) for i in range(*index.indices(count))]
        blocks, dropped, tail = self._snapshot()
        count = len(blocks) * BLOCK_EVENTS - dropped + len(tail)
        position = index + count if index < 0 else index
        if not 0 <= position < count:
            raise IndexError("event index out of range")
        return self._read(blocks, dropped, tail, position)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        blocks, dropped, tail = self._snapshot()
        for number, block in enumerate(blocks):
            offsets, payload = self._open(block)
            for position in range(dropped if number == 0 else 0, BLOCK_EVENTS):
                yield marshal.loads(payload[offsets[position] : offsets[position + 1]])
        for blob in tail:
            yield marshal.loads(blob)

    def __reversed__(self) -> Iterator[dict[str, Any]]:
        blocks, dropped, tail = self._snapshot()
        for blob in reversed(tail):
            yield marshal.loads(blob)
        for number in range(len(blocks) - 1, -1, -1):
            offsets, payload = self._open(blocks[number])
            for position in range(BLOCK_EVENTS - 1, (dropped if number == 0 else 0) - 1, -1):
                yield marshal.loads(payload[offsets[position] : offsets[position + 1]])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EventLog):
            return other is self or list(self) == list(other)
        if isinstance(other, list | tuple):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"<EventLog: {len(self)} events>"

    # -- internals --------------------------------------------------------------------------------------

    def _snapshot(self) -> tuple[list[bytes], int, list[bytes]]:
        """The blocks, the count dropped from the first and the tail, consistent with one another."""
        with self._lock:
            return list(self._blocks), self._dropped, list(self._tail)

    def _read(self, blocks: list[bytes], dropped: int, tail: list[bytes], position: int) -> dict[str, Any]:
        """The event at ``position`` (counted from the oldest event kept), unmarshalled from its compressed
        block or from the uncompressed tail of the given snapshot."""
        number, within = divmod(position + dropped, BLOCK_EVENTS)
        if number >= len(blocks):
            return marshal.loads(tail[within])  # type: ignore[no-any-return]
        offsets, payload = self._open(blocks[number])
        return marshal.loads(payload[offsets[within] : offsets[within + 1]])  # type: ignore[no-any-return]

    def _open(self, block: bytes) -> tuple[array[int], bytes]:
        """The offsets and payload of decompressed ``block``; keeps the last block decompressed in
        ``self._cache``, so reading a block's events one after another decompresses it once."""
        cache = self._cache
        if cache is not None and cache[0] is block:
            return cache[1], cache[2]
        payload = zlib.decompress(block)
        offsets = array("I")
        offsets.frombytes(payload[:_OFFSETS])
        data = payload[_OFFSETS:]
        self._cache = (block, offsets, data)  # one assignment: a reader in another thread sees old or new
        return offsets, data


def _dump(event: dict[str, Any]) -> bytes:
    """``event`` marshalled; what marshal cannot hold goes through JSON first (as EventBridge would)."""
    try:
        return marshal.dumps(event)
    except ValueError:
        return marshal.dumps(json.loads(json.dumps(event, default=str)))


def _seal(blobs: list[bytes]) -> bytes:
    """A block: the blobs' offsets, then the blobs, compressed together."""
    offsets = array("I", [0])
    for blob in blobs:
        offsets.append(offsets[-1] + len(blob))
    return zlib.compress(offsets.tobytes() + b"".join(blobs))
