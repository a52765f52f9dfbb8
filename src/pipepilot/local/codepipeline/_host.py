"""What the CodePipeline engine needs from the world around it.

The engine never imports the World (or moto): it talks to these protocols, so the World can be any object
that offers them and a unit test can hand in a twenty-line fake. :mod:`pipepilot.local.codepipeline`
re-exports them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pipepilot.local.clock import VirtualClock

__all__ = [
    "ActionScriptView",
    "CodeBuildBackend",
    "EngineWorld",
    "LambdaFunctionView",
    "LambdaHandler",
    "RuleScriptView",
    "ScriptBook",
]

#: A Python stand-in for a Lambda function: ``handler(event, context)``.
LambdaHandler = Callable[[dict[str, Any], Any], object]


class LambdaFunctionView(Protocol):
    """A Python handler registered as a Lambda function, with its timeout and duplicate deliveries."""

    @property
    def handler(self) -> LambdaHandler:
        """``handler(event, context)``."""
        ...

    @property
    def timeout(self) -> float:
        """The function's own timeout in seconds (what its context counts down from)."""
        ...

    @property
    def duplicates(self) -> tuple[float, ...]:
        """Delays (seconds after the first invocation) at which each job's event is delivered again."""
        ...


class ActionScriptView(Protocol):
    """A test's scripted outcome for one run of one action (read-only view)."""

    @property
    def outcome(self) -> str:
        """``"Succeeded"`` or ``"Failed"``."""
        ...

    @property
    def duration(self) -> float | None:
        """Seconds the run takes; None means the provider's default duration."""
        ...

    @property
    def error_code(self) -> str:
        """``errorDetails.code`` when the outcome is Failed (e.g. ``"JobFailed"``)."""
        ...

    @property
    def error_message(self) -> str:
        """``errorDetails.message`` when the outcome is Failed."""
        ...

    @property
    def summary(self) -> str | None:
        """The action's ``summary`` when it ends."""
        ...

    @property
    def external_execution_id(self) -> str | None:
        """The provider-side id shown as ``externalExecutionId``."""
        ...

    @property
    def output_variables(self) -> Mapping[str, str] | None:
        """Output variables the run publishes (merged over the provider's own)."""
        ...


class RuleScriptView(Protocol):
    """A test's scripted outcome for one evaluation of one stage-condition rule (read-only view)."""

    @property
    def outcome(self) -> str:
        """``"Succeeded"`` or ``"Failed"``."""
        ...

    @property
    def duration(self) -> float | None:
        """Seconds the evaluation takes; None means ``default_durations["Rule:<provider>"]``."""
        ...

    @property
    def summary(self) -> str | None:
        """The rule's ``summary`` (and, when it fails, its error message)."""
        ...


class ScriptBook(Protocol):
    """Scripted outcomes; each lookup consumes one use of a matching script."""

    def action_outcome(self, pipeline: str, stage: str, action: str, /) -> ActionScriptView | None:
        """The script for the next run of ``pipeline/stage/action``, or None to behave by default."""
        ...

    def rule_outcome(self, pipeline: str, stage: str, rule: str, /) -> RuleScriptView | None:
        """The script for the next evaluation of rule ``rule`` of a condition of ``pipeline/stage``, or None."""
        ...


class CodeBuildBackend(Protocol):
    """The part of the CodeBuild engine a CodeBuild action drives."""

    def start_pipeline_build(
        self,
        project_name: str,
        /,
        *,
        pipeline_name: str,
        source_version: str | None,
        environment_variables_override: list[dict[str, str]],
        output_artifacts: Sequence[Mapping[str, str]] = (),
        artifact_kms_key_id: str | None = None,
        on_complete: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        """Start a build for a pipeline action; ``on_complete(build)`` runs on the clock when it ends.

        ``output_artifacts`` (``{"name", "bucket", "key"}`` each, the first one primary) are where the build
        uploads what it produced, encrypted with ``artifact_kms_key_id`` when given.

        Raises :class:`~pipepilot.local._errors.ServiceError` (e.g. ``ResourceNotFoundException``) when the
        build cannot start; the returned build dict carries at least ``id`` and ``arn``.
        """
        ...


class EngineWorld(Protocol):
    """Everything :class:`~pipepilot.local.codepipeline.CodePipelineEngine` asks of its World."""

    @property
    def clock(self) -> VirtualClock:
        """The virtual clock; its ``lock`` guards every request and callback."""
        ...

    @property
    def account_id(self) -> str:
        """The 12-digit account the engine serves."""
        ...

    @property
    def caller_arn(self) -> str:
        """The caller shown as ``lastChangedBy`` / ``lastUpdatedBy`` / trigger detail."""
        ...

    @property
    def scripts(self) -> ScriptBook:
        """Scripted action outcomes."""
        ...

    @property
    def default_durations(self) -> Mapping[str, float]:
        """Seconds an unscripted action takes, by ``"Category:Provider"`` or by provider."""
        ...

    def new_uuid(self) -> str:
        """A fresh lowercase UUID from the World's seeded generator."""
        ...

    def codebuild(self, region: str, /) -> CodeBuildBackend:
        """The CodeBuild engine of ``region`` (same account)."""
        ...

    def publish_sns(self, topic_arn: str, message: str, subject: str | None, /) -> None:
        """Publish to an SNS topic (moto's)."""
        ...

    def put_event(self, event: dict[str, Any], /) -> None:
        """Record an EventBridge event and put it on the default bus."""
        ...

    def role_assumable_by(self, role_arn: str, service_principal: str, /) -> bool:
        """Whether ``role_arn`` exists and trusts ``service_principal``."""
        ...

    def read_object(self, bucket: str, key: str, /) -> bytes | None:
        """An S3 object's bytes (moto's), or None when the bucket or the key does not exist."""
        ...

    def write_object(self, bucket: str, key: str, body: bytes, /, *, kms_key_id: str | None = None) -> bool:
        """Store an S3 object (moto's), SSE-KMS with ``kms_key_id`` if given; False when there is no bucket."""
        ...

    def delete_written_objects(self, locations: Iterable[tuple[str, str]], /) -> int:
        """Delete the objects ``write_object`` stored at these ``(bucket, key)`` (and nothing else)."""
        ...

    def lambda_handler(self, function_name: str, /) -> LambdaHandler | None:
        """The Python handler registered for a function name or ARN, if any."""
        ...

    def lambda_function(self, function_name: str, /) -> LambdaFunctionView | None:
        """The function registered for a function name or ARN (handler, timeout, duplicates), if any."""
        ...
