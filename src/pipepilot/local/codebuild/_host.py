"""What the CodeBuild engine needs from the world around it.

The engine never imports the World (or moto): it talks to these protocols, so the World depends on the
engine and never the other way round, and a unit test can hand in a small fake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from pipepilot.local.clock import VirtualClock

__all__ = ["BuildScriptBook", "BuildScriptView", "CodeBuildHost"]


class BuildScriptView(Protocol):
    """A test's scripted course for one build (read-only view of ``pipepilot.local.BuildScript``)."""

    @property
    def fail_in(self) -> str | None:
        """The phase that ends with ``status``; None: the build succeeds."""
        ...

    @property
    def status(self) -> str:
        """``SUCCEEDED``, ``FAILED``, ``FAULT`` or ``TIMED_OUT``."""
        ...

    @property
    def message(self) -> str | None:
        """The failed phase's context message; None for CodeBuild's own."""
        ...

    @property
    def phase_durations(self) -> Mapping[str, float] | None:
        """Seconds per phase, over the World's defaults."""
        ...

    @property
    def exported_variables(self) -> Mapping[str, str] | None:
        """The build's ``exportedEnvironmentVariables``."""
        ...

    @property
    def log_lines(self) -> Mapping[str, tuple[str, ...]] | None:
        """Lines written to the log stream, by phase."""
        ...

    @property
    def artifact_files(self) -> Mapping[str, str | bytes] | None:
        """The files (path -> content) a pipeline build uploads as its output artifacts."""
        ...

    @property
    def fails(self) -> bool:
        """Whether the build ends in anything but SUCCEEDED."""
        ...


class BuildScriptBook(Protocol):
    """Scripted builds; each lookup consumes one use of a matching script."""

    def build_outcome(self, project: str, /) -> BuildScriptView | None:
        """The script for the next build of ``project``, or None to behave by default."""
        ...


class CodeBuildHost(Protocol):
    """Everything :class:`~pipepilot.local.codebuild.CodeBuildEngine` asks of its World."""

    @property
    def clock(self) -> VirtualClock:
        """The virtual clock; its ``lock`` guards every request and callback."""
        ...

    @property
    def account_id(self) -> str:
        """The 12-digit account the engine serves."""
        ...

    @property
    def caller_name(self) -> str:
        """The caller shown as a build's ``initiator``."""
        ...

    @property
    def scripts(self) -> BuildScriptBook:
        """Scripted builds."""
        ...

    @property
    def build_phase_durations(self) -> Mapping[str, float]:
        """Seconds each phase of an unscripted build takes."""
        ...

    @property
    def max_concurrent_builds(self) -> int | None:
        """In-progress builds allowed per region (None: no cap)."""
        ...

    def new_uuid(self) -> str:
        """A fresh lowercase UUID from the World's seeded generator."""
        ...

    def new_hex(self, length: int = 40) -> str:
        """A fresh lowercase hex string (a commit id, say) from the World's seeded generator."""
        ...

    def put_event(self, event: dict[str, Any], /) -> None:
        """Record an EventBridge event and put it on the default bus."""
        ...

    def role_assumable_by(self, role_arn: str, service_principal: str, /) -> bool:
        """Whether ``role_arn`` exists and trusts ``service_principal``."""
        ...

    def write_object(self, bucket: str, key: str, body: bytes, /, *, kms_key_id: str | None = None) -> bool:
        """Store an S3 object (moto's), SSE-KMS with ``kms_key_id`` if given; False when there is no bucket."""
        ...

    def write_log_events(
        self, region: str, group: str, stream: str, lines: Sequence[tuple[float, str]], /
    ) -> None:
        """Append lines (epoch seconds, message) to a CloudWatch Logs stream, creating it if needed."""
        ...
