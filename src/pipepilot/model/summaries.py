"""Short descriptions of pipelines, as ``ListPipelines`` returns them (pure data, no I/O)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from pipepilot.model._wire import Member, extra_field, members, read_members, require_mapping
from pipepilot.model.declaration import ExecutionMode, PipelineType

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

__all__ = ["PipelineSummary"]

# boto3 hands over aware datetimes; a raw JSON body has epoch seconds. Anything else goes to ``extra``.
_SUMMARY = members(
    Member.string("name", "name", required=True),
    Member.integer("version", "version"),
    Member.enum("pipeline_type", "pipelineType", PipelineType),
    Member.enum("execution_mode", "executionMode", ExecutionMode),
    Member.timestamp("created", "created", from_epoch=True),
    Member.timestamp("updated", "updated", from_epoch=True),
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
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> PipelineSummary:
        """Read one item of ``ListPipelines``' ``pipelines`` list.

        Raises:
            InvalidStructureError: ``data`` is not a mapping.
        """
        return cls(**read_members(require_mapping(data, cls), *_SUMMARY))
