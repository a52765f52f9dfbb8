"""Short descriptions of pipelines, as ``ListPipelines`` returns them (pure data, no I/O)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from pipepilot.model import _wire as wire
from pipepilot.model._wire import EMPTY_EXTRA, WireModel, extra_field
from pipepilot.model.declaration import ExecutionMode, PipelineType

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

__all__ = ["PipelineSummary"]


@attrs.frozen(kw_only=True)
class PipelineSummary(WireModel):
    """One pipeline as ``ListPipelines`` describes it: enough to pick pipelines without reading each one.

    Read one item of the response's ``pipelines`` list with ``from_api``; ``to_api`` writes it back as read
    (:class:`~pipepilot.errors.MalformedInputError` if the item is not a mapping).

    Attributes:
        name: the pipeline name.
        version: the current structure version.
        pipeline_type: ``V1``/``V2`` (a plain ``str`` for a type AWS added later; ``None`` if not reported).
        execution_mode: ``SUPERSEDED``/``QUEUED``/``PARALLEL`` (same tolerance).
        created / updated: aware UTC datetimes.
        raw_timestamps: the timestamps as read (``to_api`` writes unchanged ones back in that form).
        extra: members pipepilot does not model, kept verbatim.
    """

    name: str = attrs.field(metadata=wire.string())
    version: int | None = attrs.field(default=None, metadata=wire.integer())
    pipeline_type: PipelineType | str | None = attrs.field(default=None, metadata=wire.enum_of(PipelineType))
    execution_mode: ExecutionMode | str | None = attrs.field(
        default=None, metadata=wire.enum_of(ExecutionMode)
    )
    # boto3 hands over datetimes, a raw JSON body epoch seconds: both read as UTC datetimes, and each is
    # also kept as read, so to_api writes an epoch number back exactly as AWS sent it (a datetime holds
    # microseconds, an epoch number may carry more digits). Anything else goes to ``extra``.
    created: datetime | None = attrs.field(
        default=None, metadata=wire.timestamp(from_epoch=True, keep_raw=True)
    )
    updated: datetime | None = attrs.field(
        default=None, metadata=wire.timestamp(from_epoch=True, keep_raw=True)
    )
    raw_timestamps: Mapping[str, Any] = attrs.field(default=EMPTY_EXTRA, repr=False, eq=False, hash=False)
    extra: Mapping[str, Any] = extra_field()
