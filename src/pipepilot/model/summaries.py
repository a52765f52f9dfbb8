"""Short descriptions of pipelines, as ``ListPipelines`` returns them (pure data, no I/O)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from pipepilot.model._wire import (
    EMPTY_EXTRA,
    Member,
    WireModel,
    add_extra,
    extra_field,
    members,
    read_members,
    require_mapping,
    timestamp_parser,
    write_members,
)
from pipepilot.model.declaration import ExecutionMode, PipelineType

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

__all__ = ["PipelineSummary"]


@attrs.frozen(kw_only=True)
class PipelineSummary(WireModel):
    """One pipeline as ``ListPipelines`` describes it: enough to pick pipelines without reading each one.

    Read one item of the response's ``pipelines`` list with ``from_api``; ``to_api`` writes it back as read
    (:class:`~pipepilot.errors.InvalidStructureError` if the item is not a mapping).

    Attributes:
        name: the pipeline name.
        version: the current structure version.
        pipeline_type: ``V1``/``V2`` (a plain ``str`` for a type AWS added later; ``None`` if not reported).
        execution_mode: ``SUPERSEDED``/``QUEUED``/``PARALLEL`` (same tolerance).
        created / updated: aware UTC datetimes.
        raw_timestamps: the timestamps as read (``to_api`` writes unchanged ones back in that form).
        extra: members pipepilot does not model, kept verbatim.
    """

    name: str
    version: int | None = None
    pipeline_type: PipelineType | str | None = None
    execution_mode: ExecutionMode | str | None = None
    created: datetime | None = None
    updated: datetime | None = None
    raw_timestamps: Mapping[str, Any] = attrs.field(default=EMPTY_EXTRA, repr=False, eq=False, hash=False)
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> PipelineSummary:
        """Read one item of ``ListPipelines``' ``pipelines`` (boto3's, or the raw JSON body's).

        Timestamps are kept as read too (``raw_timestamps``), so :meth:`to_api` writes an epoch number back
        exactly as AWS sent it: a ``datetime`` holds microseconds, an epoch number may carry more digits.

        Raises:
            InvalidStructureError: *data* is not a mapping.
        """
        data = require_mapping(data, cls)
        kwargs = read_members(data, *cls._members)
        raw = {key: data[key] for key in _TIMESTAMP_KEYS if kwargs.get(key) is not None}
        if raw:
            kwargs["raw_timestamps"] = raw
        return cls(**kwargs)

    def to_api(self) -> dict[str, Any]:
        """Write the item back as read: unchanged timestamps in their original form, others as datetimes."""
        out = write_members(self, self._members[0], EMPTY_EXTRA)
        for key in _TIMESTAMP_KEYS:
            if key in out and key in self.raw_timestamps:
                raw = self.raw_timestamps[key]
                if _parse_timestamp(raw) == out[key]:
                    out[key] = raw
        if self.extra:
            add_extra(out, self.extra)
        return out


# boto3 hands over datetimes, a raw JSON body epoch seconds: both read as UTC datetimes. Anything else
# goes to ``extra``. The attribute names equal the wire keys, so the raw values are kept under either.
_TIMESTAMP_KEYS = ("created", "updated")
_parse_timestamp = timestamp_parser(from_epoch=True)

PipelineSummary._members = members(
    Member.string("name", "name", required=True),
    Member.integer("version", "version"),
    Member.enum("pipeline_type", "pipelineType", PipelineType),
    Member.enum("execution_mode", "executionMode", ExecutionMode),
    Member.timestamp("created", "created", from_epoch=True),
    Member.timestamp("updated", "updated", from_epoch=True),
)
