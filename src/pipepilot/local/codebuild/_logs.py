"""A build's CloudWatch Logs stream: where it is, and the lines each phase writes to it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pipepilot.local.codebuild._build_state import Build
    from pipepilot.local.codebuild._host import CodeBuildHost

__all__ = ["BuildLogs"]

# Phases that run in the build container and therefore write "[Container]" lines.
_CONTAINER_PHASES = frozenset(
    {"DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS"}
)


class BuildLogs:
    """The log streams of one region's builds (written to moto's CloudWatch Logs through the host)."""

    __slots__ = ("_host", "_partition", "_region")

    def __init__(self, host: CodeBuildHost, region: str, partition: str) -> None:
        self._host = host
        self._region = region
        self._partition = partition

    def pending(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """A build's ``logs`` before its stream exists: group and stream are ``null``, as on AWS."""
        region, partition, account = self._region, self._partition, self._host.account_id
        return {
            "deepLink": f"https://console.aws.amazon.com/cloudwatch/home?region={region}#logEvent:group=null;stream=null",
            "cloudWatchLogsArn": f"arn:{partition}:logs:{region}:{account}:log-group:null:log-stream:null",
            "cloudWatchLogs": dict(config.get("cloudWatchLogs", {"status": "ENABLED"})),
            "s3Logs": dict(config.get("s3Logs", {"status": "DISABLED", "encryptionDisabled": False})),
        }

    def open_stream(self, build: Build) -> None:
        """Create the build's log stream (when CloudWatch Logs is enabled) and point its ``logs`` at it."""
        config = build.logs_config
        cloudwatch = config.get("cloudWatchLogs", {"status": "ENABLED"})
        if cloudwatch.get("status", "ENABLED") != "ENABLED":
            return
        group = cloudwatch.get("groupName") or f"/aws/codebuild/{build.project}"
        prefix = cloudwatch.get("streamName")
        stream = f"{prefix}/{build.uuid}" if prefix else build.uuid
        build.log_group, build.log_stream = group, stream
        region, partition, account = self._region, self._partition, self._host.account_id
        build.logs = {
            "groupName": group,
            "streamName": stream,
            "deepLink": f"https://console.aws.amazon.com/cloudwatch/home?region={region}#logEvent:group={group};stream={stream}",
            "cloudWatchLogsArn": f"arn:{partition}:logs:{region}:{account}:log-group:{group}:log-stream:{stream}",
            "cloudWatchLogs": dict(cloudwatch),
            "s3Logs": dict(config.get("s3Logs", {"status": "DISABLED", "encryptionDisabled": False})),
        }
        self._host.write_log_events(region, group, stream, ())

    def phase_started(self, build: Build, phase: str, at: float) -> None:
        """Write the lines the agent (or the build's script) prints when ``phase`` starts."""
        if build.log_group is None:
            return
        agent: list[str] = []
        if phase == "DOWNLOAD_SOURCE":
            agent += [
                "Running on CodeBuild On-demand",
                "Waiting for agent ping",
                "Waiting for DOWNLOAD_SOURCE",
            ]
        elif phase in _CONTAINER_PHASES:
            agent.append(f"Entering phase {phase}")
        scripted = build.script.log_lines if build.script is not None else None
        output: tuple[str, ...] = ()
        if scripted is not None and phase in scripted:
            output = scripted[phase]
        elif phase == "BUILD":
            agent.append("Running command ./build.sh")
        self._write(build, at, agent, output)

    def phase_ended(
        self, build: Build, phase: str, status: str, context: Mapping[str, str] | None, at: float
    ) -> None:
        """Write the agent's "Phase complete" lines for a container phase that ended with ``status``."""
        if build.log_group is None or phase not in _CONTAINER_PHASES:
            return
        code = context.get("statusCode", "") if context else ""
        message = context.get("message", "") if context else ""
        self._write(
            build,
            at,
            [
                f"Phase complete: {phase} State: {status}",
                f"Phase context status code: {code} Message: {message}",
            ],
        )

    def _write(self, build: Build, at: float, agent: list[str], output: tuple[str, ...] = ()) -> None:
        # Agent lines carry the "[Container] <time>" prefix; command output (scripted lines) is written raw.
        """Append agent lines (prefixed) and command output lines (raw) to the build's stream."""
        if build.log_group is None or build.log_stream is None or not (agent or output):
            return
        stamp = datetime.fromtimestamp(at, tz=timezone.utc).strftime("%Y/%m/%d %H:%M:%S.%f")
        lines = [(at, f"[Container] {stamp} {message}") for message in agent]
        lines += [(at, message) for message in output]
        self._host.write_log_events(self._region, build.log_group, build.log_stream, lines)
