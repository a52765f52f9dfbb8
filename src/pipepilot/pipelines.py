"""Live CodePipeline objects: the :class:`CodePipeline` facade and :class:`Pipeline` handles.

A :class:`CodePipeline` stands for CodePipeline in one account and region. It holds a boto3 client (injected,
or created on first use, never at import) behind pipepilot's one I/O seam (:mod:`pipepilot._calls`),
which translates errors and retries what is safe to retry. Everything it hands out is either a typed
model (:mod:`pipepilot.model`) or a *handle*: a :class:`Pipeline` is a name plus the facade, and makes no
call until one of its methods needs one.

::

    cp = CodePipeline(region_name="eu-west-1")          # no client yet
    for summary in cp.pipelines():                      # ListPipelines, page by page
        print(summary.name, summary.version)
    pipeline = cp.pipeline("web")                       # no call
    declaration = pipeline.declaration()                # GetPipeline
    pipeline.update(declaration.evolve(...), expected_version=declaration.version)

    execution = pipeline.start()                        # StartPipelineExecution (idempotent)
    approval = pipeline.wait_for_approval("Approval")   # the pending Approval, as soon as it shows
    approval.approve("staging looks good")
    execution.wait(on_progress=print)                   # returns, or raises ExecutionFailed & co.

    record = cp.freeze("web-*", stage="Prod", reason="Holiday freeze")   # every web-* pipeline
    cp.thaw(record)                                     # re-enables exactly what the freeze disabled
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pipepilot._checks import check_declaration, check_int, check_str, check_str_map, check_wait_options
from pipepilot._facade import Facade
from pipepilot._handles import aws_details, pipeline_state
from pipepilot.errors import (
    NoApprovalWaitingError,
    PipelineExecutionNotFoundError,
    PipelineNotFoundError,
    PipelineRenameError,
    PipepilotError,
    RequestValidationError,
    ResourceNotFoundError,
    TransientError,
    VersionConflictError,
)

# The modules behind most methods (models, waits, approvals, fleet work) are imported by the methods that
# use them: creating a facade and its client must not load them (see benchmarks/bench_first_client.py).
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from mypy_boto3_codepipeline.client import CodePipelineClient

    from pipepilot._calls import Caller
    from pipepilot.approvals import Approval
    from pipepilot.codebuild import CodeBuild
    from pipepilot.executions import Execution, ProgressCallback, RevisionOverride
    from pipepilot.fleet import FleetStates, Selection
    from pipepilot.freeze import Checkpoint, FreezeRecord
    from pipepilot.model.declaration import PipelineDeclaration, PipelineDocument
    from pipepilot.model.runtime import (
        PipelineExecutionStatus,
        PipelineExecutionSummary,
        PipelineState,
        StageState,
    )
    from pipepilot.model.summaries import PipelineSummary
    from pipepilot.polling import PollPolicy, Step
    from pipepilot.stages import Stage
    from pipepilot.transitions import Transition

__all__ = ["CodePipeline", "Pipeline"]

logger = logging.getLogger(__name__)


class CodePipeline(Facade["CodePipelineClient"]):
    """CodePipeline in one account and region: list, create and open pipelines; read and freeze fleets.

    Pass a boto3 ``client`` to use it as it is (its own retry configuration is respected, see
    :class:`~pipepilot.RetryPolicy`), or let pipepilot create one on first use from ``session`` (default:
    boto3's default session, the one ``boto3.client()`` uses, shared by every facade), ``region_name`` and
    ``config``. ``retry`` is the retry policy; ``clock`` (monotonic seconds) and ``sleep`` default to
    pipepilot's time source, looked up at each call, so :func:`pipepilot.local.offline` applies. They are also the defaults of the waits of its handles, and
    of the :class:`~pipepilot.CodeBuild` facade :meth:`codebuild` returns.

    Raises:
        ArgumentTypeError: an option has the wrong type (``client="x"``, ``retry=3``, ``clock=1``: the text
            names the option and what to pass), or both a client and options to build one were given.
    """

    service_name = "codepipeline"

    def codebuild(self) -> CodeBuild:
        """The CodeBuild facade configured like this one, in the same region (made once, on first use).

        It is built from the same session, botocore config, retry policy, clock and sleep; when this
        facade's client was injected, in that client's region, from a new default boto3 session. It is the
        one ``action.build()`` reads builds through.
        """
        from pipepilot.codebuild import codebuild_beside

        return codebuild_beside(self._calls)

    # -- pipelines ----------------------------------------------------------------------------------------

    def pipelines(self) -> Iterator[PipelineSummary]:
        """Every pipeline in the account and region, as summaries, fetched page by page as you iterate.

        Nothing is requested until the first item is needed.

        Raises:
            PipepilotError: listing failed (for example :class:`~pipepilot.AccessDeniedError`).
        """
        from pipepilot.model.summaries import PipelineSummary

        for item in self._calls.paginate("list_pipelines", "pipelines"):
            yield PipelineSummary.from_api(item)

    def pipeline(self, name: str) -> Pipeline:
        """A handle on the pipeline called ``name``; no call is made until the handle is used.

        Raises:
            RequestValidationError: ``name`` is not a non-empty string.
        """
        if not isinstance(name, str) or not name:
            raise RequestValidationError(f"a pipeline name is a non-empty string, not {name!r}")
        return Pipeline(self, name)

    def create_pipeline(
        self,
        declaration: PipelineDeclaration,
        *,
        tags: Mapping[str, str] | None = None,
        validate: bool = True,
    ) -> Pipeline:
        """Create the pipeline ``declaration`` describes, tagged with ``tags``, and return its handle.

        The declaration is validated locally first (every problem at once, before anything is sent) unless
        ``validate=False``. AWS ignores the declaration's ``version``: a new pipeline is version 1, and
        creating it starts its first execution. If the service role was created moments ago, the create is
        retried while IAM propagates it (see :class:`~pipepilot.RetryPolicy`).

        Raises:
            PipelineValidationError: local validation found problems; nothing was sent.
            PipelineNameInUseError: a pipeline with that name exists (moto reports this as
                :class:`~pipepilot.errors.InvalidStructureError`).
            InvalidStructureError: AWS rejected the structure, or the role stayed unassumable.
            LimitExceededError: the account's pipeline quota is reached.
            InvalidTagsError, TooManyTagsError: the tags were refused.
            ArgumentTypeError: ``declaration`` is not a :class:`~pipepilot.PipelineDeclaration` (a wire
                dict: read it with ``PipelineDeclaration.from_api``), or ``tags`` is not a mapping of
                strings; nothing was sent.
        """
        declaration = check_declaration(declaration)
        check_str_map(tags, "tags", example='{"team": "web"}')
        if validate:
            declaration.validate()
        params: dict[str, Any] = {"pipeline": declaration.to_api()}
        if tags:
            params["tags"] = _tag_list(tags)
        # Not idempotent: after an ambiguous failure (5xx, dropped connection) a resend could meet its own
        # pipeline as "name in use", so such failures are raised for the caller to check.
        self._calls.call("create_pipeline", idempotent=False, **params)
        logger.info("created pipeline %s", declaration.name)
        return Pipeline(self, declaration.name)

    # -- fleets -------------------------------------------------------------------------------------------

    def states(
        self, pipelines: Selection, *, max_workers: int | None = None, rate: float | None = None
    ) -> FleetStates:
        """Read the state of many pipelines concurrently, as fast as the account allows.

        ``pipelines`` is a selection: names, an fnmatch pattern or tags (see :mod:`pipepilot.fleet`).
        Requests are paced by the facade's adaptive limiter (no limit until AWS throttles, then half the
        rate, growing back slowly), shared with the facade's other fleet operations; ``rate`` also caps
        this call at ``rate`` requests a second. Pipelines that could not be read are in the result's
        ``errors``, not raised. ``max_workers`` left at ``None`` takes :mod:`pipepilot.fleet`'s default (as
        in :meth:`freeze`, :meth:`thaw`).

        Raises:
            ValueError: ``max_workers`` or ``rate`` is out of range.
            PipepilotError: the selection could not be resolved.
        """
        from pipepilot.fleet import read_states

        return read_states(self._calls, pipelines, **_fleet_options(max_workers, rate))

    def freeze(
        self,
        pipelines: Selection,
        *,
        stage: str,
        reason: str,
        resume: FreezeRecord | None = None,
        checkpoint: Checkpoint | None = None,
        max_workers: int | None = None,
        rate: float | None = None,
    ) -> FreezeRecord:
        """Disable the inbound transition of ``stage`` in every selected pipeline (see :mod:`pipepilot.freeze`).

        Raises:
            RequestValidationError: ``reason`` or ``stage`` breaks the API's rules (nothing was changed).
            ValueError: ``resume`` is the record of another freeze.
            ArgumentTypeError: ``resume`` is not a :class:`~pipepilot.freeze.FreezeRecord` (read a saved one with
                ``FreezeRecord.from_json``), or ``checkpoint`` is not callable (nothing was changed).
            PipepilotError: the selection could not be resolved (nothing was changed).
        """
        from pipepilot.freeze import freeze

        return freeze(
            self._calls,
            pipelines,
            stage=stage,
            reason=reason,
            resume=resume,
            checkpoint=checkpoint,
            **_fleet_options(max_workers, rate),
        )

    def thaw(
        self,
        record: FreezeRecord,
        *,
        checkpoint: Checkpoint | None = None,
        max_workers: int | None = None,
        rate: float | None = None,
    ) -> FreezeRecord:
        """Re-enable exactly what the freeze ``record`` disabled (see :mod:`pipepilot.freeze`).

        Raises:
            ArgumentTypeError: ``record`` is not a :class:`~pipepilot.freeze.FreezeRecord` (read a saved one with
                ``FreezeRecord.from_json``), or ``checkpoint`` is not callable (nothing was changed).
            ValueError: ``max_workers`` or ``rate`` is out of range.
        """
        from pipepilot.freeze import thaw

        return thaw(self._calls, record, checkpoint=checkpoint, **_fleet_options(max_workers, rate))


class Pipeline:
    """A handle on one pipeline: its name and the :class:`CodePipeline` it belongs to.

    Besides its declaration (read, update, delete, tags) it starts and follows executions, and reaches the
    pipeline's stages, transitions and approvals.

    Creating a handle makes no call and does not check that the pipeline exists; each method makes the
    calls it needs. Two handles are equal when they name the same pipeline through the same facade.
    """

    def __init__(self, service: CodePipeline, name: str) -> None:
        self._service = service
        self._name = name
        self._arn: str | None = None

    @property
    def name(self) -> str:
        """The pipeline's name."""
        return self._name

    @property
    def service(self) -> CodePipeline:
        """The facade this handle calls through."""
        return self._service

    @property
    def _calls(self) -> Caller[CodePipelineClient]:
        return self._service._calls

    def __repr__(self) -> str:
        return f"Pipeline(name={self._name!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pipeline):
            return NotImplemented
        return self._service is other._service and self._name == other._name

    def __hash__(self) -> int:
        return hash((id(self._service), self._name))

    # -- reading ------------------------------------------------------------------------------------------

    def document(self, *, version: int | None = None) -> PipelineDocument:
        """The declaration with its metadata (ARN, created, updated), at ``version`` or the latest.

        Raises:
            PipelineNotFoundError: no such pipeline.
            PipelineVersionNotFoundError: the pipeline has no such version.
        """
        from pipepilot.model.declaration import PipelineDocument

        check_int(version, "version", optional=True)
        params: dict[str, Any] = {"name": self._name}
        if version is not None:
            params["version"] = version
        document = PipelineDocument.from_api(self._calls.call("get_pipeline", idempotent=True, **params))
        if document.metadata is not None and document.metadata.pipeline_arn:
            self._arn = document.metadata.pipeline_arn
        return document

    def declaration(self, *, version: int | None = None) -> PipelineDeclaration:
        """The pipeline's declaration at ``version`` (default: the latest); one ``GetPipeline`` call.

        Raises:
            PipelineNotFoundError: no such pipeline.
            PipelineVersionNotFoundError: the pipeline has no such version.
        """
        return self.document(version=version).declaration

    def arn(self) -> str:
        """The pipeline's ARN (read once with ``GetPipeline``, then remembered by this handle).

        Raises:
            PipelineNotFoundError: no such pipeline.
        """
        if self._arn is None:
            self.document()
            if self._arn is None:
                raise PipelineNotFoundError(f"GetPipeline returned no ARN for pipeline {self._name!r}")
        return self._arn

    # -- changing -----------------------------------------------------------------------------------------

    def update(
        self,
        declaration: PipelineDeclaration,
        *,
        expected_version: int | None = None,
        validate: bool = True,
    ) -> PipelineDeclaration:
        """Replace the pipeline's structure with ``declaration``; return the stored one (version bumped).

        The declaration is validated locally first unless ``validate=False``. Its name must be the
        pipeline's: CodePipeline cannot rename (create a copy and delete the old one instead).

        With ``expected_version`` the update is optimistic: the current version is read first, and if the
        pipeline has moved past the version the caller based its edit on, :class:`VersionConflictError` is
        raised and nothing is changed. CodePipeline has no conditional update, so a window remains between
        that read and the update: a concurrent writer landing inside it is overwritten. That case is
        detected afterwards (the stored version jumps by more than one) and logged at WARNING; the caller
        can compare the returned ``version`` with ``expected_version + 1``.

        An update is not retried after an ambiguous failure (5xx, dropped connection): it may have been
        applied, and a resend would bump the version again.

        Raises:
            PipelineRenameError: ``declaration.name`` differs from the pipeline's name; nothing was sent.
            PipelineValidationError: local validation found problems; nothing was sent.
            VersionConflictError: the pipeline is no longer at ``expected_version``; nothing was changed.
            PipelineNotFoundError: no such pipeline.
            InvalidStructureError, InvalidStageDeclarationError, InvalidActionDeclarationError,
                ValidationError: AWS rejected the new structure.
            ArgumentTypeError: ``declaration`` is not a :class:`~pipepilot.PipelineDeclaration` (a wire
                dict: read it with ``PipelineDeclaration.from_api``), or ``expected_version`` is not an
                integer; nothing was sent.
        """
        from pipepilot.model.declaration import PipelineDeclaration

        declaration = check_declaration(declaration)
        check_int(expected_version, "expected_version", optional=True)
        if declaration.name != self._name:
            raise PipelineRenameError(
                f"cannot update pipeline {self._name!r} with a declaration named {declaration.name!r}: "
                f"CodePipeline cannot rename a pipeline; create {declaration.name!r} and delete "
                f"{self._name!r} instead",
                name=self._name,
                new_name=declaration.name,
            )
        if validate:
            declaration.validate()
        if expected_version is not None:
            current = self.declaration().version
            if current != expected_version:
                raise VersionConflictError(
                    f"pipeline {self._name!r} is at version {current}, not {expected_version}: it changed "
                    "since the declaration was read; read it again and reapply the edit",
                    pipeline_name=self._name,
                    expected_version=expected_version,
                    actual_version=current,
                )
        try:
            response = self._calls.call("update_pipeline", idempotent=False, pipeline=declaration.to_api())
        except ResourceNotFoundError as exc:
            # UpdatePipeline models no not-found error; what comes back is the generic one. Say it plainly.
            raise PipelineNotFoundError(
                f"cannot update pipeline {self._name!r}: it does not exist", **aws_details(exc)
            ) from exc
        updated = PipelineDeclaration.from_api(response["pipeline"])
        if (
            expected_version is not None
            and updated.version is not None
            and updated.version > expected_version + 1
        ):
            logger.warning(
                "pipeline %s went from version %s to %s during this update: a concurrent update landed "
                "between the version check and the write, and was overwritten",
                self._name,
                expected_version,
                updated.version,
            )
        logger.info("updated pipeline %s to version %s", self._name, updated.version)
        return updated

    def delete(self) -> None:
        """Delete the pipeline. Deleting a pipeline that does not exist succeeds (as AWS does).

        Raises:
            ConcurrentModificationError: another change to the pipeline is in progress.
        """
        # Idempotent: AWS answers a delete of a missing pipeline with success, so a resend is harmless.
        self._calls.call("delete_pipeline", idempotent=True, name=self._name)
        logger.info("deleted pipeline %s", self._name)

    # -- tags ---------------------------------------------------------------------------------------------

    def tags(self) -> dict[str, str]:
        """The pipeline's tags, as a ``{key: value}`` dict.

        Raises:
            PipelineNotFoundError: no such pipeline.
        """
        arn = self.arn()
        return {
            tag["key"]: tag.get("value", "")
            for tag in self._calls.paginate("list_tags_for_resource", "tags", resourceArn=arn)
        }

    def tag(self, tags: Mapping[str, str] | None = None, /, **more: str) -> None:
        """Add or overwrite tags: ``pipeline.tag({"team": "web"})`` or ``pipeline.tag(team="web")``.

        Tagging with the same values again changes nothing. No tags at all makes no call.

        Raises:
            PipelineNotFoundError: no such pipeline.
            InvalidTagsError: a key is reserved (``aws:``) or invalid.
            TooManyTagsError: the pipeline would carry more tags than allowed.
            ArgumentTypeError: ``tags`` is not a mapping of strings to strings (nothing was sent).
        """
        check_str_map(tags, "tags", example='{"team": "web"}')
        check_str_map(more, "tags", example="team='web'")
        merged = {**(tags or {}), **more}
        if not merged:
            return
        self._calls.call("tag_resource", idempotent=True, resourceArn=self.arn(), tags=_tag_list(merged))

    def untag(self, *keys: str) -> None:
        """Remove the tags with these keys (keys the pipeline does not carry are ignored).

        Raises:
            PipelineNotFoundError: no such pipeline.
            ArgumentTypeError: a key is not a string (nothing was sent).
        """
        for key in keys:
            check_str(key, "keys")
        if not keys:
            return
        self._calls.call("untag_resource", idempotent=True, resourceArn=self.arn(), tagKeys=list(keys))

    # -------------------------------------------------------------------------------------- executions

    def start(
        self,
        *,
        variables: Mapping[str, str] | None = None,
        source_revisions: Iterable[RevisionOverride] | None = None,
        token: str | None = None,
    ) -> Execution:
        """Start an execution and return its handle; a retried start never starts twice.

        ``variables`` override pipeline variables (name -> value); ``source_revisions`` pin source
        revisions. The request always carries a ``clientRequestToken``: ``token``, or a fresh one reused
        across this call's retries.

        Raises:
            RequestValidationError: a variable, revision or the token breaks the API's rules (nothing was sent).
            PipelineNotFoundError: no such pipeline.
            ConcurrentPipelineExecutionsLimitExceededError: the pipeline runs as many executions as it may.
        """
        from pipepilot.executions import start_execution

        return start_execution(
            self._calls, self.name, variables=variables, source_revisions=source_revisions, token=token
        )

    def execution(self, execution_id: str) -> Execution:
        """The handle of execution ``execution_id`` (no call is made; :meth:`Execution.get` reads it).

        Raises:
            ArgumentTypeError / InvalidArgumentError: ``execution_id`` is not a non-empty string.
        """
        from pipepilot.executions import Execution

        check_str(execution_id, "execution_id")
        return Execution(caller=self._calls, pipeline=self.name, id=execution_id)

    def executions(
        self,
        *,
        status: PipelineExecutionStatus | str | None = None,
        succeeded_in_stage: str | None = None,
    ) -> Iterator[PipelineExecutionSummary]:
        """The pipeline's executions, newest first, as summaries fetched page by page as you iterate.

        ``succeeded_in_stage`` keeps executions that succeeded in that stage (filtered by AWS);
        ``status`` keeps those with that status (filtered here: the API has no such filter).

        Raises:
            PipelineNotFoundError: no such pipeline.
            ArgumentTypeError: ``status`` or ``succeeded_in_stage`` is not a string (nothing was sent).
        """
        from pipepilot.model.runtime import PipelineExecutionSummary

        check_str(status, "status", optional=True)
        check_str(succeeded_in_stage, "succeeded_in_stage", optional=True)
        params: dict[str, Any] = {"pipelineName": self.name}
        if succeeded_in_stage is not None:
            params["filter"] = {"succeededInStage": {"stageName": succeeded_in_stage}}
        wanted = None if status is None else str(status)
        for item in self._calls.paginate("list_pipeline_executions", "pipelineExecutionSummaries", **params):
            summary = PipelineExecutionSummary.from_api(item)
            if wanted is None or str(summary.status) == wanted:
                yield summary

    def latest_execution(self) -> Execution | None:
        """The most recently started execution, or ``None`` if the pipeline never ran (one call).

        Raises:
            PipelineNotFoundError: no such pipeline.
        """
        response = self._calls.call(
            "list_pipeline_executions", idempotent=True, pipelineName=self.name, maxResults=1
        )
        summaries = response.get("pipelineExecutionSummaries") or ()
        if not summaries:
            return None
        return self.execution(summaries[0]["pipelineExecutionId"])

    def state(self) -> PipelineState:
        """Every stage as ``GetPipelineState`` shows it now (stage, action and transition states, latest
        and waiting executions, conditions, retry metadata).

        Raises:
            PipelineNotFoundError: no such pipeline.
        """
        return pipeline_state(self._calls, self.name)

    # ---------------------------------------------------------------------------- stages, transitions

    def stage(self, name: str) -> Stage:
        """The handle of stage ``name`` (its existence is not checked until used).

        Raises:
            ArgumentTypeError / InvalidArgumentError: ``name`` is not a non-empty string.
        """
        from pipepilot.stages import Stage

        check_str(name, "name")
        return Stage(caller=self._calls, pipeline=self.name, name=name)

    def transitions(self) -> tuple[Transition, ...]:
        """Every transition of the pipeline, in stage order: each stage's inbound transition, and the
        outbound transition of every stage but the last (one ``GetPipelineState`` call, for the names).

        Read their states with :meth:`Transition.state`, or all at once from :meth:`state` (each
        ``StageState.inbound_transition_state``).

        Raises:
            PipelineNotFoundError: no such pipeline.
        """
        from pipepilot.model.runtime import StageTransitionType
        from pipepilot.transitions import Transition

        names = [stage.stage_name for stage in self.state().stage_states]
        found: list[Transition] = []
        for index, name in enumerate(names):
            found.append(
                Transition(
                    caller=self._calls, pipeline=self.name, stage=name, kind=StageTransitionType.INBOUND
                )
            )
            if index < len(names) - 1:
                found.append(
                    Transition(
                        caller=self._calls, pipeline=self.name, stage=name, kind=StageTransitionType.OUTBOUND
                    )
                )
        return tuple(found)

    # -------------------------------------------------------------------------------------- approvals

    def approvals(self, *, execution: Execution | str | None = None) -> list[Approval]:
        """The manual approvals waiting for an answer (of one execution, when given), in stage order.

        One ``GetPipeline`` (mode, custom data, links, timeouts) and one ``GetPipelineState``; in PARALLEL
        mode ``ListActionExecutions`` per running execution instead of the state (see
        :mod:`pipepilot.approvals`).

        Raises:
            PipelineNotFoundError: no such pipeline.
        """
        from pipepilot.approvals import pending_approvals
        from pipepilot.executions import execution_id_of

        return pending_approvals(self._calls, self.name, execution_id=execution_id_of(execution))

    def approval(
        self,
        stage: str,
        action: str,
        *,
        execution: Execution | str | None = None,
        token: str | None = None,
    ) -> Approval:
        """The approval ``stage``/``action`` as a handle to answer: ``pipeline.approval(...).approve(summary)``.

        ``token`` pins the handle to that approval run, with no call made (a notification's token); it can
        never answer another run. ``execution`` pins it to that execution's approval: when that one was
        already answered (a redelivered request), the handle still comes back, and answering it the same
        way again is a logged success. With neither, the approval waiting there now is returned, only if
        no other execution waits there too. One ``GetPipeline`` and one ``GetPipelineState`` (in PARALLEL
        mode ``ListActionExecutions`` per running execution instead), unless ``token`` is given.

        Raises:
            NoApprovalWaitingError: no approval waits there (for that execution), or the action is not an
                approval (the message says which category it is).
            AmbiguousApprovalError: several executions wait there (PARALLEL mode) and none was named.
            PipelineNotFoundError: no such pipeline.
            ArgumentTypeError / InvalidArgumentError: an argument has the wrong type or is empty.
        """
        from pipepilot.approvals import find_approval
        from pipepilot.executions import execution_id_of

        check_str(stage, "stage")
        check_str(action, "action")
        check_str(token, "token", optional=True)
        return find_approval(
            self._calls, self.name, stage, action, execution_id=execution_id_of(execution), token=token
        )

    # ------------------------------------------------------------------------------------------ waits

    def wait_for_approval(
        self,
        stage: str | None = None,
        action: str | None = None,
        *,
        execution: Execution | str | None = None,
        poll: PollPolicy | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Approval:
        """Wait until an approval waits for an answer, and return it as soon as it appears.

        ``stage``/``action`` narrow which approval (default: any); ``execution`` waits for that
        execution's. One ``GetPipeline`` first, then one ``GetPipelineState`` per poll. In PARALLEL mode a
        poll reads ``ListActionExecutions`` instead (per running execution, or for ``execution`` plus one
        ``GetPipelineExecution`` to notice its end). Throttling slows polling instead of failing.

        ``on_progress`` receives the progress events of ``execution`` (default: of every execution
        running in the pipeline) seen between two polls, as :meth:`Execution.wait` reports them: the
        approval itself arrives as an :class:`~pipepilot.events.ApprovalRequested` event before the wait returns
        it. Reporting costs no extra call, except in PARALLEL mode (one ``GetPipelineState`` per poll).

        ``poll.timeout`` (seconds) bounds the wait; without it, the wait gives up after the
        approval's default (:func:`~pipepilot.polling.approval_timeout`: the approval's lifetime, 7 days
        unless declared, plus the longest the actions before it may run), so a wait held behind another
        execution's approval outlasts it. ``PollPolicy(timeout=PollPolicy.FOREVER)`` waits without a limit.

        Raises:
            ExecutionFailed / ExecutionStopped / ExecutionSuperseded / ExecutionCancelled: ``execution``
                ended before reaching the approval.
            NoApprovalWaitingError: ``execution`` succeeded without such an approval waiting (it was answered
                between two polls, or the pipeline has none by that name), or ``stage``/``action`` names
                an action that is not an approval (nothing was polled).
            WaitTimeout: none appeared in time (``last`` is the last pipeline state seen, or ``None``).
            PipelineNotFoundError: no such pipeline.
            ArgumentTypeError: an argument has the wrong type; nothing was read.
        """
        from pipepilot.approvals import (
            approvals_in_state,
            check_is_approval,
            is_parallel,
            pending_approvals,
            read_declaration,
        )
        from pipepilot.executions import execution_id_of, execution_may_have_ended
        from pipepilot.polling import (
            PollSchedule,
            approval_timeout,
            poll_jitter,
            wait_policy,
            wait_timing,
            wait_until,
        )

        check_str(stage, "stage", optional=True)
        check_str(action, "action", optional=True)
        check_wait_options(poll=poll, callbacks={"on_progress": on_progress})
        execution_id = execution_id_of(execution)
        policy = wait_policy(poll)
        now_of, sleep_for = wait_timing(self._calls)
        where = f"{stage or '*'}/{action or '*'}"
        schedule = PollSchedule(
            policy=policy,
            started=now_of(),
            rng=poll_jitter(self.name, "approval", stage or "*", action or "*", execution_id or "*"),
        )
        declaration = read_declaration(self._calls, self.name)
        check_is_approval(declaration, stage, action)
        schedule.default_timeout = approval_timeout(declaration, stage=stage, action=action)
        parallel = is_parallel(declaration)
        found: list[Approval] = []
        progress = None if on_progress is None else _StateProgress(self._calls, declaration, on_progress)

        def fetch() -> PipelineState | None:
            found.clear()
            if parallel:
                found.extend(
                    pending_approvals(
                        self._calls, self.name, declaration=declaration, execution_id=execution_id
                    )
                )
                if progress is not None:
                    # The state cannot show every run of a PARALLEL pipeline, but it is all there is.
                    progress.observe(self.state(), execution_id)
                return None
            state = self.state()
            if progress is not None:
                progress.observe(state, execution_id)
            found.extend(
                approvals_in_state(self._calls, state, declaration=declaration, execution_id=execution_id)
            )
            return state

        def matches(approval: Approval) -> bool:
            return (stage is None or approval.stage == stage) and (
                action is None or approval.action == action
            )

        def decide(state: PipelineState | None, now: float) -> Step:
            if any(matches(approval) for approval in found):
                return schedule.decide(True, now)
            # The state shows when the execution may have ended; a PARALLEL pipeline's state cannot, so
            # there the execution itself is read on every poll.
            if (
                execution_id is not None
                and (state is None or execution_may_have_ended(state, execution_id))
                and self._succeeded(execution_id, f"reaching approval {where}")
            ):
                raise NoApprovalWaitingError(
                    f"execution {execution_id} of pipeline {self.name!r} ended Succeeded without approval "
                    f"{where} waiting for an answer (answered between two polls, or there is none)",
                    pipeline=self.name,
                    stage=stage,
                    action=action,
                    execution_id=execution_id,
                )
            return schedule.decide(False, now)

        wait_until(
            fetch,
            decide,
            clock=now_of,
            sleep=sleep_for,
            policy=policy,
            schedule=schedule,
            label=f"approval {where} in {self.name}",
        )
        approval = next(approval for approval in found if matches(approval))
        logger.info("%s is waiting", approval.describe())
        return approval

    def wait_for_stage(
        self,
        stage: str,
        *,
        execution: Execution | str | None = None,
        poll: PollPolicy | None = None,
    ) -> StageState:
        """Wait until ``execution`` (default: the latest execution now) has succeeded in ``stage``.

        Returns the stage's state then (a stage skipped by its condition counts as passed). An execution
        seen in a later stage, or that succeeded, has passed the stage too; if a newer execution entered the
        stage since, the state returned shows that one. One ``GetPipelineState`` per poll; one
        ``GetPipelineExecution`` when the execution shows nowhere in the state (it may have been superseded).
        ``poll.timeout`` (seconds) bounds the wait; without it, the wait gives up after the
        stage's default (:func:`~pipepilot.polling.stage_timeout`, read with one ``GetPipeline`` once the
        wait has lasted an hour); ``PollPolicy(timeout=PollPolicy.FOREVER)`` waits without a limit.

        Raises:
            ExecutionFailed / ExecutionStopped / ExecutionCancelled: the execution failed, stopped or was
                cancelled in that stage or before it; ``stage``, ``action`` and the error say where.
            ExecutionSuperseded: a newer execution overtook it before the stage.
            StageNotFoundError: the pipeline has no such stage.
            PipelineExecutionNotFoundError: no execution was given and the pipeline never ran.
            WaitTimeout: the timeout passed first (``last`` is the last pipeline state seen).
            ArgumentTypeError: an argument has the wrong type; nothing was read.
        """
        from pipepilot.approvals import read_declaration
        from pipepilot.executions import (
            ENDED_IN_STAGE,
            PASSED_STAGE,
            Where,
            execution_id_of,
            execution_may_have_ended,
            unsuccessful,
            waits_at,
        )
        from pipepilot.polling import (
            DefaultTimeout,
            PollSchedule,
            fallback_timeout,
            poll_jitter,
            stage_timeout,
            wait_policy,
            wait_timing,
            wait_until,
        )

        check_str(stage, "stage")
        check_wait_options(poll=poll)
        target = execution_id_of(execution)
        if target is None:
            latest = self.latest_execution()
            if latest is None:
                raise PipelineExecutionNotFoundError(f"pipeline {self.name!r} has no execution to wait for")
            target = latest.id
        policy = wait_policy(poll)
        now_of, sleep_for = wait_timing(self._calls)

        def default_timeout() -> DefaultTimeout:
            # Read only by a wait that lasts an hour or more: a short wait never pays for GetPipeline.
            try:
                return stage_timeout(read_declaration(self._calls, self.name), stage)
            except PipepilotError as error:
                logger.debug("could not read pipeline %s for its time limits: %s", self.name, error)
                return fallback_timeout(f"pipeline {self.name!r} could not be read")

        schedule = PollSchedule(
            policy=policy,
            started=now_of(),
            rng=poll_jitter(self.name, "stage", stage, target),
            default_timeout=default_timeout,
        )

        def decide(state: PipelineState, now: float) -> Step:
            state.stage(stage)  # an unknown stage raises StageNotFoundError at the first poll
            stages = state.stage_states
            awaited = next(index for index, found in enumerate(stages) if found.stage_name == stage)
            for index, stage_state in enumerate(stages):
                run = stage_state.latest_execution
                if run is None or run.pipeline_execution_id != target:
                    if index > awaited and waits_at(stage_state, target):
                        return schedule.decide(True, now)  # it waits in front of a later stage
                    continue
                status = str(run.status)
                if index > awaited or (index == awaited and status in PASSED_STAGE):
                    return schedule.decide(True, now)
                if status in ENDED_IN_STAGE:
                    raise unsuccessful(self.name, target, status, Where.from_stage(stage_state))
            if execution_may_have_ended(state, target) and self._succeeded(
                target, f"reaching stage {stage!r}"
            ):
                return schedule.decide(True, now)  # it passed every stage
            return schedule.decide(False, now)

        final = wait_until(
            self.state,
            decide,
            clock=now_of,
            sleep=sleep_for,
            policy=policy,
            schedule=schedule,
            label=f"stage {stage} of {self.name}",
        )
        return final.stage(stage)

    def _succeeded(self, execution_id: str, doing: str) -> bool:
        """Whether the execution has succeeded (one call); raise its ExecutionUnsuccessful when it ended
        otherwise. ``False`` while it runs, or when it could not be read (the next poll looks again)."""
        handle = self.execution(execution_id)
        try:
            current = handle.get()
        except TransientError:
            return False
        if not current.is_terminal:
            return False
        handle._outcome(current, state=None, before=doing)  # returns only when it succeeded
        return True


class _StateProgress:
    """Reports the progress a wait sees in successive ``GetPipelineState`` readings (``on_progress``).

    Without an execution to follow, it follows every execution that runs (or waits) in some stage, and
    keeps following one until the reading where it stopped running, so its end is reported too.
    """

    def __init__(
        self, caller: Caller[Any], declaration: PipelineDeclaration, on_progress: ProgressCallback
    ) -> None:

        self.caller = caller
        self.declaration = declaration
        self.on_progress = on_progress
        self.last: PipelineState | None = None

    def observe(self, state: PipelineState, execution_id: str | None) -> None:
        from datetime import datetime, timezone

        from pipepilot.approvals import with_approval
        from pipepilot.polling import ApprovalRequested, diff_states

        previous, self.last = self.last, state
        if execution_id is not None:
            followed = [execution_id]
        else:
            followed = _running(state)
            if previous is not None:
                followed += [known for known in _running(previous) if known not in followed]
        observed_at = datetime.fromtimestamp(self.caller.time.time(), tz=timezone.utc)
        for followed_id in followed:
            for event in diff_states(previous, state, followed_id, observed_at=observed_at):
                if isinstance(event, ApprovalRequested):
                    event = with_approval(event, caller=self.caller, declaration=self.declaration)
                self.on_progress(event)


def _running(state: PipelineState) -> list[str]:
    """The executions running in or waiting in front of some stage, in stage order."""
    from pipepilot.model.runtime import is_terminal_status

    ids: dict[str, None] = {}
    for stage in state.stage_states:
        latest = stage.latest_execution
        if latest is not None and not is_terminal_status(latest.status):
            ids[latest.pipeline_execution_id] = None
        for waiting in stage.waiting_executions():
            ids[waiting.pipeline_execution_id] = None
    return list(ids)


def _fleet_options(max_workers: int | None, rate: float | None) -> dict[str, Any]:
    """The fleet options given; ``None`` leaves pipepilot.fleet's default (kept there, so that a facade's
    signature does not import the fleet module)."""
    options: dict[str, Any] = {}
    if max_workers is not None:
        options["max_workers"] = max_workers
    if rate is not None:
        options["rate"] = rate
    return options


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in tags.items()]
