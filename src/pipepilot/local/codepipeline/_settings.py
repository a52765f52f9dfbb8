"""The CodePipeline engine's settings: its choices where AWS's behaviour is unconfirmed, and its quotas."""

from __future__ import annotations

import attrs

from pipepilot.model.declaration import DEFAULT_PIPELINE_TYPE

__all__ = ["CodePipelineSettings", "checked_settings"]

_non_negative_count = attrs.validators.ge(0)
_non_negative_seconds = attrs.validators.ge(0.0)


@attrs.frozen(kw_only=True)
class CodePipelineSettings:
    """Choices the engine makes where AWS's behaviour is unconfirmed (or is a quota), as settings.

    The defaults are the most plausible reading of AWS's documentation; see the module docstring of
    :mod:`pipepilot.local.codepipeline` for the reasoning behind each. Pass an instance to
    ``pipepilot.local.offline(codepipeline_settings=...)``, or assign ``aws.codepipeline_settings``.

    Raises:
        ValueError: a value outside its field's range or choices (e.g. a negative timeout).
        TypeError: a value of the wrong type.
    """

    #: ``pipelineType`` of a pipeline declared without one (historically V1; AWS now creates V2:
    #: :data:`pipepilot.model.declaration.DEFAULT_PIPELINE_TYPE`).
    default_pipeline_type: str = attrs.field(
        default=DEFAULT_PIPELINE_TYPE.value, validator=attrs.validators.in_(("V1", "V2"))
    )
    #: Live (InProgress + Stopping) executions a QUEUED or PARALLEL pipeline may have.
    concurrent_execution_cap: int = attrs.field(
        default=50, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)]
    )
    #: Pipelines per account and region (the adjustable quota).
    pipeline_limit: int = attrs.field(
        default=1000, validator=[attrs.validators.instance_of(int), _non_negative_count]
    )
    #: Status a *waiting* execution gets when UpdatePipeline lands ("Cancelled" today, "Failed" in 2022 docs).
    waiting_status_on_update: str = attrs.field(
        default="Cancelled", validator=attrs.validators.in_(("Cancelled", "Failed"))
    )
    #: A transition disabled longer than this does not resume its waiting executions when re-enabled.
    stale_transition_seconds: float = attrs.field(default=30 * 24 * 3600.0, validator=_non_negative_seconds)
    #: Manual approval timeout when the action sets no ``timeoutInMinutes``.
    approval_timeout_seconds: float = attrs.field(default=7 * 24 * 3600.0, validator=_non_negative_seconds)
    #: Per-job answer window of a Lambda invoke action (restarted by a continuation).
    lambda_job_timeout_seconds: float = attrs.field(default=20 * 60.0, validator=_non_negative_seconds)
    #: Seconds between an "in progress" answer (success with a continuation token) and the invocation of the
    #: Lambda function with the new job. AWS documents no delay; set one to model a slower re-invocation.
    lambda_continuation_delay_seconds: float = attrs.field(default=0.0, validator=_non_negative_seconds)
    #: Overall cap of a Lambda invoke action across continuations.
    lambda_action_timeout_seconds: float = attrs.field(default=24 * 3600.0, validator=_non_negative_seconds)
    #: Per-job window of a custom action job.
    custom_job_timeout_seconds: float = attrs.field(default=24 * 3600.0, validator=_non_negative_seconds)
    #: Whether a Python Lambda handler that raises fails the action at once (instead of timing out).
    lambda_errors_fail_action: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    #: Completed executions kept per pipeline; beyond it the oldest are forgotten (AWS keeps 12 months).
    #: Clean-ups run in batches of 1% of the history, so a pipeline may hold up to 1% more in between.
    execution_history_limit: int = attrs.field(
        default=10_000, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)]
    )
    #: Executions that started longer ago than this (virtual seconds) are forgotten once they completed.
    #: AWS keeps 12 months; the default adds a margin so that a RollbackStage target just past 365 days
    #: still answers PipelineExecutionOutdatedException rather than not found.
    execution_history_seconds: float = attrs.field(default=400 * 24 * 3600.0, validator=_non_negative_seconds)
    #: EventBridge events kept in ``OfflineAWS.events`` (CodePipeline and CodeBuild); the oldest go first.
    event_history_limit: int = attrs.field(
        default=100_000, validator=[attrs.validators.instance_of(int), _non_negative_count]
    )


def checked_settings(settings: object) -> CodePipelineSettings:
    """``settings`` itself when it is a :class:`CodePipelineSettings`.

    Raises:
        TypeError: it is anything else (a dict of options, say).
    """
    if not isinstance(settings, CodePipelineSettings):
        raise TypeError(
            "codepipeline_settings must be a pipepilot.local.CodePipelineSettings "
            f"(e.g. attrs.evolve(aws.codepipeline_settings, ...)), not {settings!r}"
        )
    return settings
