"""Jobs: Lambda invoke actions (the handler runs outside the lock) and custom actions' job workers."""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from pipepilot.local._arns import partition_of
from pipepilot.local.codepipeline._part import Part
from pipepilot.local.codepipeline._state import (
    FAILED,
    IN_PROGRESS,
    KIND_SOURCE,
    SUCCEEDED,
    ActionRun,
    Artifact,
    Job,
    Json,
    Revision,
    Structure,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from pipepilot.local.codepipeline._scheduler import Scheduler

logger = logging.getLogger(__name__)

# How long a job's temporary artifact credentials last (STS's default session length).
_CREDENTIALS_SECONDS = 3600.0

JOB_TIMEOUT_MESSAGE = (
    "The action failed because a job worker exceeded its time limit. If this is a custom action, "
    "make sure that the job worker is configured correctly."
)


class LambdaContext:
    """The ``context`` object a registered Lambda handler receives (the attributes handlers use)."""

    def __init__(
        self, *, function_name: str, request_id: str, arn: str, deadline: float, now: Callable[[], float]
    ):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = 128
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"offline/[$LATEST]{request_id.replace('-', '')}"
        self._deadline = deadline
        self._now = now

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds of (virtual) time left before the function's own timeout."""
        return max(0, int((self._deadline - self._now()) * 1000))


class Jobs(Part):
    """The jobs of one engine: by id, queued per custom action type, and the custom types in use."""

    def __init__(self, rt: Scheduler) -> None:
        super().__init__(rt)
        self.by_id: dict[str, Job] = {}
        self.queues: dict[tuple[str, str, str], deque[Job]] = {}
        self.custom_types: set[tuple[str, str, str]] = set()

    def new(self, run: ActionRun, *, lambda_function: str | None, continuation: str | None = None) -> Job:
        """Create a job for an action run: invoke its Lambda handler, or queue it for a custom job worker."""
        now = self.now()
        job = Job(
            id=self.world.new_uuid(),
            nonce=self.world.new_uuid(),
            run=run,
            status="InProgress" if lambda_function is not None else "Queued",
            created=now,
            lambda_function=lambda_function,
            continuation_token=continuation,
            credentials=self.credentials(),
        )
        self.by_id[job.id] = job
        run.job = job
        if lambda_function is not None:
            remaining = run.start + self.settings.lambda_action_timeout_seconds - now
            window = max(0.0, min(self.settings.lambda_job_timeout_seconds, remaining))
            job.timer = self.later(window, lambda: self.timed_out(job))
            delay = self.settings.lambda_continuation_delay_seconds if continuation is not None else 0.0
            # Unlocked: the handler is user code, which may call the engine from other threads.
            self.world.clock.call_later(delay, lambda: self.invoke_lambda(job), locked=False)
        else:
            action = run.action
            key = (action.category, action.provider, action.version)
            self.queues.setdefault(key, deque()).append(job)
            job.timer = self.later(self.settings.custom_job_timeout_seconds, lambda: self.timed_out(job))
        return job

    def invoke_lambda(self, job: Job, *, duplicate: bool = False) -> None:
        """Call the job's Lambda handler: the event is built under the engine's lock, the handler runs outside it.

        The first invocation also schedules the duplicates the function was registered with (the same event
        again, later); a ``duplicate`` invocation is delivered whatever became of the job meanwhile.
        """
        call = self.serve(lambda: self.lambda_call(job, duplicate=duplicate))
        if call is None:
            return
        handler, event, context, duplicates = call
        name = context.function_name
        for delay in duplicates:
            self.world.clock.call_later(delay, lambda: self.invoke_lambda(job, duplicate=True), locked=False)
        try:
            handler(event, context)
        except Exception as exc:
            logger.warning("Lambda handler for %s raised %s", name, type(exc).__name__, exc_info=True)
            if self.settings.lambda_errors_fail_action:
                message = f"Lambda function {name} raised {type(exc).__name__}: {exc}"
                self.serve(lambda: self.fail_raised(job, message))

    def lambda_call(
        self, job: Job, *, duplicate: bool = False
    ) -> tuple[Callable[..., object], Json, LambdaContext, tuple[float, ...]] | None:
        """The handler, event, context and duplicate delays of a job's invocation, or None when there is
        nothing to invoke (a duplicate is delivered even after the job was answered)."""
        if job.lambda_function is None or job.run.execution.pipeline.deleted:
            return None
        if not duplicate and (job.status != "InProgress" or job.run.status != IN_PROGRESS):
            return None
        function = job.lambda_function
        registered = self.world.lambda_function(function)
        if registered is None:
            logger.info("no handler registered for Lambda %s; job waits for its timeout", function)
            return None
        event: Json = {
            "CodePipeline.job": {
                "id": job.id,
                "accountId": self.world.account_id,
                "data": self.data(job, for_lambda=True),
            }
        }
        name = function.rsplit(":function:", 1)[-1].split(":")[0]
        context = LambdaContext(
            function_name=name,
            request_id=self.world.new_uuid(),
            arn=f"arn:{partition_of(self.region)}:lambda:{self.region}:{self.world.account_id}:function:{name}",
            deadline=self.now() + registered.timeout,
            # The clock's, not the engine's frozen now: the handler runs outside engine work.
            now=self.world.clock.now,
        )
        return registered.handler, event, context, () if duplicate else registered.duplicates

    def fail_raised(self, job: Job, message: str) -> None:
        """Fail a Lambda job whose handler raised, unless the job already has an answer."""
        if job.status == "InProgress":
            self.fail(job, "JobFailed", message)

    def timed_out(self, job: Job) -> None:
        """Fail the job's action run because no worker answered in time."""
        job.timer = None
        if job.status in ("Succeeded", "Failed", "TimedOut"):
            return
        job.status = "TimedOut"
        self._rt.actions.finish(job.run, FAILED, error=("JobFailed", JOB_TIMEOUT_MESSAGE))

    def succeed(
        self,
        job: Job,
        *,
        continuation_token: str | None,
        details: Mapping[str, Any] | None,
        output_variables: Mapping[str, str] | None,
        current_revision: Mapping[str, Any] | None,
    ) -> None:
        """PutJobSuccessResult after its checks passed."""
        run = job.run
        self.end(job, "Succeeded")
        if details:
            if details.get("summary") is not None:
                run.summary = str(details["summary"])
            if details.get("externalExecutionId") is not None:
                run.external_id = str(details["externalExecutionId"])
            if details.get("percentComplete") is not None:
                run.percent_complete = int(details["percentComplete"])
        if continuation_token is not None:
            run.last_change = self.now()
            self.new(run, lambda_function=job.lambda_function, continuation=continuation_token)
            return
        if current_revision and run.action.kind == KIND_SOURCE:
            run.revision = Revision(
                revision_id=str(current_revision["revision"]),
                change_id=str(current_revision["changeIdentifier"]),
                summary=current_revision.get("revisionSummary"),
                created=float(current_revision.get("created") or self.now()),
            )
        self._rt.actions.finish(run, SUCCEEDED, output_variables=output_variables or {})

    def fail(self, job: Job, failure_type: str, message: str, external_id: str | None = None) -> None:
        """PutJobFailureResult after its checks passed (also used for handlers that raise)."""
        self.end(job, "Failed")
        self._rt.actions.finish(job.run, FAILED, error=(failure_type, message), external_id=external_id)

    def end(self, job: Job, status: str) -> None:
        """Give ``job`` its final ``status`` and cancel its timeout."""
        job.status = status
        if job.timer is not None:
            job.timer.cancel()
            job.timer = None

    def poll(self, key: tuple[str, str, str], max_batch: int, query: Mapping[str, str]) -> list[Job]:
        """Hand out queued jobs of a custom action type (marks them Dispatched)."""
        queue = self.queues.get(key)
        if not queue:
            return []
        handed: list[Job] = []
        kept: deque[Job] = deque()
        while queue:
            job = queue.popleft()
            if job.status != "Queued" or job.run.status != IN_PROGRESS or job.id not in self.by_id:
                continue  # finished, abandoned or deleted: drop it from the queue
            config = job.run.resolved_configuration
            if len(handed) < max_batch and all(config.get(k) == v for k, v in query.items()):
                job.status = "Dispatched"
                handed.append(job)
            else:
                kept.append(job)
        self.queues[key] = kept
        return handed

    def data(self, job: Job, *, for_lambda: bool) -> Json:
        """``JobData`` (GetJobDetails / PollForJobs), or the ``data`` of a Lambda event."""
        run = job.run
        action = run.action
        execution = run.execution
        data: Json = {}
        if not for_lambda:
            data["actionTypeId"] = action.type_id()
        data["actionConfiguration"] = {"configuration": dict(run.resolved_configuration)}
        if not for_lambda:
            data["pipelineContext"] = {
                "pipelineName": execution.pipeline.name,
                "stage": {"name": action.stage},
                "action": {"name": action.name, "actionExecutionId": run.id},
                "pipelineArn": execution.pipeline.arn,
                "pipelineExecutionId": execution.id,
            }
        revisions = {name: revision.revision_id for name, revision in execution.artifact_revisions}
        data["inputArtifacts"] = [_job_artifact(a, revisions.get(a.name)) for a in run.input_artifacts]
        data["outputArtifacts"] = [_job_artifact(a, None) for a in run.output_artifacts]
        data["artifactCredentials"] = dict(job.credentials)
        if for_lambda:
            # Lambda events say when the credentials expire (epoch milliseconds); JobData has no such member.
            data["artifactCredentials"]["expirationTime"] = round((job.created + _CREDENTIALS_SECONDS) * 1000)
        if job.continuation_token is not None:
            data["continuationToken"] = job.continuation_token
        key = execution.structure.encryption_key(action.region or self.region)
        if key is not None:
            data["encryptionKey"] = key
        return data

    def register_custom_types(self, structure: Structure) -> None:
        """Remember the custom action types a pipeline version uses (PollForJobs accepts only those)."""
        for stage in structure.stages:
            for action in stage.actions:
                if action.owner == "Custom":
                    self.custom_types.add((action.category, action.provider, action.version))

    def credentials(self) -> dict[str, str]:
        """Fresh temporary artifact credentials for a job."""
        return {
            "accessKeyId": "ASIA" + self.hex_id(16).upper(),
            "secretAccessKey": self.hex_id(40),
            "sessionToken": self.hex_id(120),
        }


def _job_artifact(artifact: Artifact, revision: str | None) -> Json:
    """A job's input or output artifact as JobData shows it: its name, ``revision`` and S3 location in the
    artifact store.
    """
    return {
        "name": artifact.name,
        "revision": revision,
        "location": {
            "type": "S3",
            "s3Location": {"bucketName": artifact.bucket, "objectKey": artifact.key},
        },
    }
