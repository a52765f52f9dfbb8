"""Short descriptions of pipelines, as ``ListPipelines`` returns them (pure data, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import attrs

from pipepilot.errors import InvalidStructureError
from pipepilot.model._wire import BAD, EMPTY_EXTRA, Member, enum_table, keys_only_repr, members, read_members
from pipepilot.model.declaration import ExecutionMode, PipelineType

__all__ = ["PipelineSummary"]


def _parse_timestamp(raw: Any) -> Any:
    # boto3 hands over aware datetimes; a raw JSON body has epoch seconds. Anything else goes to ``extra``.
    if isinstance(raw, datetime):
        return raw
    if type(raw) is float or type(raw) is int:
        return datetime.fromtimestamp(raw, tz=timezone.utc)
    return BAD


_SUMMARY = members(
    Member.string("name", "name", required=True),
    Member.integer("version", "version"),
    Member.enum("pipeline_type", "pipelineType", enum_table(PipelineType)),
    Member.enum("execution_mode", "executionMode", enum_table(ExecutionMode)),
    Member("created", "created", _parse_timestamp, None, None),
    Member("updated", "updated", _parse_timestamp, None, None),
)


@attrs.frozen(kw_only=True)
class PipelineSummary:
    """One pipeline as ``ListPipelines`` describes it: enough to pick pipelines without reading each one.

    Attributes:
        name: the pipeline name.
        version: the current structure version.
        pipeline_type: ``V1``/``V2`` (a plain ``str`` for a type AWS added later; ``None`` if not reported).
        execution_mode: ``SUPERSEDED``/``QUEUED``/``PARALLEL`` (same tolerance).
        created / updated: timezone-aware datetimes.
        extra: members pipepilot does not model, kept verbatim.
    """

    name: str
    version: int | None = None
    pipeline_type: PipelineType | str | None = None
    execution_mode: ExecutionMode | str | None = None
    created: datetime | None = None
    updated: datetime | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY_EXTRA, repr=keys_only_repr, hash=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> PipelineSummary:
        """Read one item of ``ListPipelines``' ``pipelines`` list.

        Raises:
            InvalidStructureError: ``data`` is not a mapping.
        """
        if not isinstance(data, Mapping):
            raise InvalidStructureError(
                f"PipelineSummary.from_api() needs a mapping, got {type(data).__name__}"
            )
        return cls(**read_members(data, *_SUMMARY))
