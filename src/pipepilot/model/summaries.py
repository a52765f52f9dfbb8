"""Short descriptions of pipelines, as ``ListPipelines`` returns them (pure data, no I/O)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from pipepilot.model._wire import Member, WireModel, extra_field, members
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
        extra: members pipepilot does not model, kept verbatim.
    """

    name: str
    version: int | None = None
    pipeline_type: PipelineType | str | None = None
    execution_mode: ExecutionMode | str | None = None
    created: datetime | None = None
    updated: datetime | None = None
    extra: Mapping[str, Any] = extra_field()


# boto3 hands over datetimes, a raw JSON body epoch seconds: both read as UTC datetimes. Anything else
# goes to ``extra``.
PipelineSummary._members = members(
    Member.string("name", "name", required=True),
    Member.integer("version", "version"),
    Member.enum("pipeline_type", "pipelineType", PipelineType),
    Member.enum("execution_mode", "executionMode", ExecutionMode),
    Member.timestamp("created", "created", from_epoch=True),
    Member.timestamp("updated", "updated", from_epoch=True),
)
