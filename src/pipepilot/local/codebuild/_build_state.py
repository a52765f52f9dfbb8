"""One build's live state, as the builds, their phases and their logs share it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from pipepilot.local.clock import Timer
    from pipepilot.local.codebuild._host import BuildScriptView

__all__ = ["Build"]


class Build:
    """One build's live state; ``static`` holds the fields that never change after StartBuild."""

    __slots__ = (
        "complete",
        "current_phase",
        "end_time",
        "exported",
        "final_status",
        "id",
        "log_group",
        "log_stream",
        "logs",
        "logs_config",
        "number",
        "on_complete",
        "outputs",
        "outputs_kms_key_id",
        "phase_durations",
        "phases",
        "project",
        "queued_timer",
        "script",
        "sequence",
        "start_time",
        "static",
        "status",
        "timeout_timer",
        "timer",
        "uuid",
    )
    # Set once by Builds._begin, before anything reads them.
    id: str
    uuid: str
    project: str
    number: int
    sequence: int
    start_time: float
    current_phase: str
    script: BuildScriptView | None
    phase_durations: dict[str, float]
    static: dict[str, Any]
    logs_config: Mapping[str, Any]
    logs: dict[str, Any]

    def __init__(self) -> None:
        self.phases: list[dict[str, Any]] = []
        self.timer: Timer | None = None
        self.timeout_timer: Timer | None = None
        self.queued_timer: Timer | None = None
        self.end_time: float | None = None
        self.exported: list[dict[str, str]] | None = None
        self.complete = False
        self.status = "IN_PROGRESS"
        self.final_status = "SUCCEEDED"
        self.on_complete: list[Callable[[dict[str, Any]], None]] = []
        self.log_group: str | None = None
        self.log_stream: str | None = None
        #: Where a pipeline build uploads its output artifacts ({"name", "bucket", "key"}; first = primary).
        self.outputs: tuple[Mapping[str, str], ...] = ()
        self.outputs_kms_key_id: str | None = None

    def to_api(self) -> dict[str, Any]:
        """The build as BatchGetBuilds returns it."""
        data = dict(self.static)
        data["startTime"] = self.start_time
        data["currentPhase"] = self.current_phase
        data["buildStatus"] = self.status
        data["buildComplete"] = self.complete
        data["phases"] = [dict(phase) for phase in self.phases]
        data["logs"] = dict(self.logs)
        if self.end_time is not None:
            data["endTime"] = self.end_time
        if self.exported is not None:
            data["exportedEnvironmentVariables"] = [dict(variable) for variable in self.exported]
        return data
