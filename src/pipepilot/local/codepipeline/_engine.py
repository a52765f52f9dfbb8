"""The CodePipeline engine's wire side: one decoded JSON request in, one answer (or a ServiceError) out."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any, TypeVar

from pipepilot._shapes import check_shape, request_problems, service_model, validation_message
from pipepilot.local._arns import partition_of
from pipepilot.local._errors import ServiceError
from pipepilot.local._paging import Paging
from pipepilot.local.codepipeline import _render as render
from pipepilot.local.codepipeline._scheduler import Scheduler
from pipepilot.local.codepipeline._settings import CodePipelineSettings, checked_settings
from pipepilot.local.codepipeline._state import (
    FAILED,
    IN_PROGRESS,
    KIND_APPROVAL,
    KIND_SOURCE,
    LIVE_STATUSES,
    MODE_PARALLEL,
    MODE_QUEUED,
    STOPPED,
    STOPPING,
    TYPE_ROLLBACK,
    ActionDef,
    ActionRun,
    Execution,
    Json,
    PipelineRecord,
    Revision,
    RuleRun,
    StageDef,
    Structure,
    filter_matches,
    masked_declaration,
    normalize_declaration,
    parse_structure,
    restore_masked_secrets,
)
from pipepilot.model.validation import find_problems

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from botocore.model import Shape

    from pipepilot.local.codepipeline._host import EngineWorld

__all__ = ["CodePipelineEngine"]

logger = logging.getLogger(__name__)

_SERVICE = "codepipeline"
_PAGING = Paging(
    error_code="InvalidNextTokenException", error_message="The next token is not valid for this request"
)
_DECLARATION_OPERATIONS = frozenset({"CreatePipeline", "UpdatePipeline"})
_ROLE_PRINCIPAL = "codepipeline.amazonaws.com"
_OUTPUT_VARIABLES_LIMIT = 122_880
_HISTORY_SECONDS = 365 * 24 * 3600.0
_Run = TypeVar("_Run", ActionRun, RuleRun)

# find_problems codes -> the exception CreatePipeline/UpdatePipeline answers ; shape codes and
# unknown codes fall back to ValidationException / InvalidStructureException below.
_SHAPE_CODES = frozenset(
    {
        "type",
        "required",
        "unknown-member",
        "too-short",
        "too-long",
        "pattern",
        "enum",
        "too-few",
        "too-many",
        "out-of-range",
    }
)
_STAGE_CODES = frozenset(
    {"too-few-actions", "too-many-actions", "duplicate-action-name", "rollback-in-parallel-mode"}
)
_ACTION_CODES = frozenset(
    {
        "too-few-input-artifacts",
        "too-many-input-artifacts",
        "too-few-output-artifacts",
        "too-many-output-artifacts",
        "primary-source-required",
        "primary-source-unknown",
        "timeout-not-allowed",
        "cross-region-not-allowed",
        "unknown-variable",
        "unknown-namespace",
        "namespace-declared-later",
        "duplicate-namespace",
    }
)


@functools.cache
def _declaration_shape() -> Shape:
    """The botocore shape of a CodePipeline ``PipelineDeclaration``, loaded once per process."""
    return service_model(_SERVICE).shape_for("PipelineDeclaration")


@functools.cache
def _tag_list_shape() -> Shape:
    """The botocore shape of a CodePipeline ``TagList``, loaded once per process."""
    # One shape object for the life of the process: check_shape caches its compiled checker per object.
    return service_model(_SERVICE).shape_for("TagList")


# The (category, provider) pairs of the AWS-owned action types (the action structure reference); an
# AWS-owned action outside this set answers InvalidActionDeclarationException. ThirdParty and Custom
# types are accepted as declared.
_AWS_ACTION_TYPES = frozenset(
    {
        ("Source", "S3"),
        ("Source", "CodeCommit"),
        ("Source", "ECR"),
        ("Source", "CodeStarSourceConnection"),
        ("Build", "CodeBuild"),
        ("Build", "ECRBuildAndPublish"),
        ("Test", "CodeBuild"),
        ("Test", "DeviceFarm"),
        ("Deploy", "S3"),
        ("Deploy", "CloudFormation"),
        ("Deploy", "CloudFormationStackSet"),
        ("Deploy", "CloudFormationStackInstances"),
        ("Deploy", "CodeDeploy"),
        ("Deploy", "CodeDeployToECS"),
        ("Deploy", "ECS"),
        ("Deploy", "EKS"),
        ("Deploy", "EC2"),
        ("Deploy", "ElasticBeanstalk"),
        ("Deploy", "AppConfig"),
        ("Deploy", "OpsWorks"),
        ("Deploy", "ServiceCatalog"),
        ("Deploy", "AlexaSkillsKit"),
        ("Invoke", "Lambda"),
        ("Invoke", "StepFunctions"),
        ("Invoke", "InspectorScan"),
        ("Approval", "Manual"),
        ("Compute", "Commands"),
    }
)


class CodePipelineEngine:
    """CodePipeline for one account and region, on the World's virtual clock.

    ``dispatch(operation, params)`` answers one API call (``params`` is the decoded JSON request, the return
    value the JSON response body) or raises :class:`~pipepilot.local._errors.ServiceError`.
    """

    def __init__(
        self, world: EngineWorld, region: str, *, settings: CodePipelineSettings | None = None
    ) -> None:
        self.world = world
        self.region = region
        self.scheduler = Scheduler(world, region, CodePipelineSettings() if settings is None else settings)
        self._pipelines: dict[str, PipelineRecord] = {}
        self._handlers: dict[str, Callable[[Json], Json]] = {
            "CreatePipeline": self._create_pipeline,
            "GetPipeline": self._get_pipeline,
            "UpdatePipeline": self._update_pipeline,
            "DeletePipeline": self._delete_pipeline,
            "ListPipelines": self._list_pipelines,
            "GetPipelineState": self._get_pipeline_state,
            "GetPipelineExecution": self._get_pipeline_execution,
            "ListPipelineExecutions": self._list_pipeline_executions,
            "ListActionExecutions": self._list_action_executions,
            "ListRuleExecutions": self._list_rule_executions,
            "StartPipelineExecution": self._start_pipeline_execution,
            "StopPipelineExecution": self._stop_pipeline_execution,
            "RetryStageExecution": self._retry_stage_execution,
            "RollbackStage": self._rollback_stage,
            "OverrideStageCondition": self._override_stage_condition,
            "EnableStageTransition": self._enable_stage_transition,
            "DisableStageTransition": self._disable_stage_transition,
            "PutApprovalResult": self._put_approval_result,
            "PutJobSuccessResult": self._put_job_success_result,
            "PutJobFailureResult": self._put_job_failure_result,
            "PollForJobs": self._poll_for_jobs,
            "AcknowledgeJob": self._acknowledge_job,
            "GetJobDetails": self._get_job_details,
            "PutActionRevision": self._put_action_revision,
            "ListTagsForResource": self._list_tags_for_resource,
            "TagResource": self._tag_resource,
            "UntagResource": self._untag_resource,
        }

    def __repr__(self) -> str:
        return f"<CodePipelineEngine {self.world.account_id}/{self.region} pipelines={len(self._pipelines)}>"

    @property
    def settings(self) -> CodePipelineSettings:
        """The engine's :class:`CodePipelineSettings`; assigning one takes effect at once.

        The scheduler holds the only copy, so requests and timers always agree on the settings in force.
        """
        return self.scheduler.settings

    @settings.setter
    def settings(self, settings: CodePipelineSettings) -> None:
        self.scheduler.settings = checked_settings(settings)

    # -- the request entry point ------------------------------------------------------------------------

    def implements(self, operation: str) -> bool:
        """Whether this engine answers ``operation`` (others may fall back to moto)."""
        return operation in self._handlers

    def dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer one CodePipeline API call; raises ServiceError with AWS's code and HTTP status."""
        handler = self._handlers.get(operation)
        if handler is None:
            raise ServiceError("UnknownOperationException", f"Operation {operation} is not supported offline")

        def answer() -> dict[str, Any]:
            """Check ``params`` against the operation's input shape (ValidationException), except for
            CreatePipeline and UpdatePipeline, then run the operation's handler.
            """
            # CreatePipeline / UpdatePipeline check their (large) declaration once, in _check_declaration.
            if operation not in _DECLARATION_OPERATIONS:
                problems = request_problems(_SERVICE, operation, params)
                if problems:
                    raise ServiceError("ValidationException", validation_message(problems))
            return handler(params)

        return self.scheduler.clock.serve(answer)

    # -- lookups ----------------------------------------------------------------------------------------

    def _arn(self, name: str) -> str:
        """The ARN of pipeline ``name`` in this engine's account and region."""
        return f"arn:{partition_of(self.region)}:codepipeline:{self.region}:{self.world.account_id}:{name}"

    def _pipeline(self, name: str) -> PipelineRecord:
        """The pipeline ``name``, or PipelineNotFoundException."""
        record = self._pipelines.get(name)
        if record is None:
            raise ServiceError(
                "PipelineNotFoundException",
                f"Account '{self.world.account_id}' does not have a pipeline with name '{name}'",
            )
        # Every request about a pipeline sees its history as retention leaves it at this virtual time.
        self.scheduler.executions.forget_old(record)
        return record

    def _stage(self, record: PipelineRecord, name: str) -> StageDef:
        """The stage ``name`` of the pipeline's current version, or StageNotFoundException."""
        stage = record.current.stage(name)
        if stage is None:
            raise ServiceError(
                "StageNotFoundException", f"Stage '{name}' does not exist in pipeline '{record.name}'"
            )
        return stage

    def _execution(self, record: PipelineRecord, execution_id: str) -> Execution:
        """The execution ``execution_id`` of ``record``, or PipelineExecutionNotFoundException."""
        execution = record.executions.get(execution_id)
        if execution is None:
            raise ServiceError(
                "PipelineExecutionNotFoundException",
                f"Pipeline execution '{execution_id}' does not exist in pipeline '{record.name}'",
            )
        return execution

    def _check_cap(self, record: PipelineRecord) -> None:
        """Refuse a new live execution beyond the concurrency cap of QUEUED and PARALLEL pipelines."""
        if record.current.execution_mode in (MODE_QUEUED, MODE_PARALLEL) and (
            len(record.live) >= self.settings.concurrent_execution_cap
        ):
            raise ServiceError(
                "ConcurrentPipelineExecutionsLimitExceededException",
                f"Pipeline '{record.name}' already has {len(record.live)} executions in progress; "
                f"the limit is {self.settings.concurrent_execution_cap}",
            )

    # -- pipeline CRUD ----------------------------------------------------------------------------------

    def _check_declaration(self, params: Json, default_type: str | None) -> Json:
        """Validate a CreatePipeline / UpdatePipeline request and return its declaration.

        Field problems (ValidationException) win over structure problems, as the service checks fields
        first; ``default_type`` None means "the current type of the pipeline being updated".
        """
        declaration = params.get("pipeline")
        if not isinstance(declaration, dict):
            raise ServiceError("ValidationException", "pipeline: a pipeline declaration (object) is required")
        tags = params.get("tags")
        tag_problems = list(check_shape(_tag_list_shape(), tags, "tags")) if tags is not None else []
        if default_type is None:
            record = self._pipelines.get(str(declaration.get("name")))
            default_type = record.current.pipeline_type if record else self.settings.default_pipeline_type
        problems = find_problems(declaration, region=self.region, default_pipeline_type=default_type)
        if tag_problems or any(p.code in _SHAPE_CODES for p in problems):
            # The service reports every field problem of the request in one message, in its own words.
            field_problems = [*check_shape(_declaration_shape(), declaration, "pipeline"), *tag_problems]
            raise ServiceError("ValidationException", validation_message(field_problems))
        if problems:
            first = problems[0]
            if first.code in _STAGE_CODES:
                code = "InvalidStageDeclarationException"
            elif first.code in _ACTION_CODES:
                code = "InvalidActionDeclarationException"
            else:
                code = "InvalidStructureException"
            raise ServiceError(code, first.message)
        for stage in declaration.get("stages") or ():
            for action in stage.get("actions") or ():
                type_id = action["actionTypeId"]
                if (
                    type_id["owner"] == "AWS"
                    and (type_id["category"], type_id["provider"]) not in _AWS_ACTION_TYPES
                ):
                    raise ServiceError(
                        "InvalidActionDeclarationException",
                        f"ActionType (Category: '{type_id['category']}', Provider: '{type_id['provider']}', "
                        f"Owner: 'AWS', Version: '{type_id['version']}') in action '{action['name']}' is not "
                        f"available in region '{self.region}'",
                    )
            if stage.get("blockers"):
                raise ServiceError(
                    "InvalidBlockerDeclarationException",
                    f"Stage '{stage.get('name')}' declares blockers, a field reserved for future use",
                )
        return declaration

    def _check_role(self, declaration: Json) -> None:
        """Refuse a role CodePipeline could not assume."""
        role = declaration["roleArn"]
        if not self.world.role_assumable_by(role, _ROLE_PRINCIPAL):
            raise ServiceError(
                "InvalidStructureException",
                f"CodePipeline is not authorized to perform AssumeRole on role {role}",
            )

    @staticmethod
    def _check_tags(tags: list[Json], existing: Mapping[str, str], arn: str) -> None:
        """Refuse tags AWS refuses (reserved prefix, too many, duplicates)."""
        for tag in tags:
            if str(tag["key"]).startswith("aws:"):
                raise ServiceError(
                    "InvalidTagsException",
                    "Not allowed to modify system tags. System tags start with 'aws:'. "
                    "msg=[Caller is an end user and not allowed to mutate system tags]",
                )
        if len(set(existing) | {str(t["key"]) for t in tags}) > 50:
            raise ServiceError("TooManyTagsException", f"Tag limit exceeded for resource [{arn}].")

    def _create_pipeline(self, params: Json) -> Json:
        """CreatePipeline: store the declaration as version 1 and start its first execution."""
        declaration = self._check_declaration(params, self.settings.default_pipeline_type)
        name = declaration["name"]
        if name in self._pipelines:
            raise ServiceError(
                "PipelineNameInUseException",
                f"A pipeline with the name '{name}' already exists in account '{self.world.account_id}'",
            )
        self._check_role(declaration)
        tags = params.get("tags") or []
        arn = self._arn(name)
        self._check_tags(tags, {}, arn)
        if len(self._pipelines) >= self.settings.pipeline_limit:
            raise ServiceError(
                "LimitExceededException",
                f"The maximum number of pipelines ({self.settings.pipeline_limit}) has been reached",
            )
        stored = normalize_declaration(
            declaration, version=1, default_pipeline_type=self.settings.default_pipeline_type
        )
        structure = parse_structure(stored)
        self.scheduler.jobs.register_custom_types(structure)
        now = self.scheduler.clock.now()
        record = PipelineRecord(
            name=name,
            arn=arn,
            versions=[structure],
            created=now,
            updated=now,
            tags={str(t["key"]): str(t["value"]) for t in tags},
        )
        self._pipelines[name] = record
        self.scheduler.executions.start(
            record, trigger_type="CreatePipeline", trigger_detail=self.world.caller_arn
        )
        response: Json = {"pipeline": masked_declaration(structure)}
        if tags:
            response["tags"] = self._tag_list(record)
        return response

    def _get_pipeline(self, params: Json) -> Json:
        """GetPipeline: the declaration of the current (or a requested) version, secrets masked."""
        record = self._pipeline(params["name"])
        version = params.get("version")
        if version is None:
            structure = record.current
        elif 1 <= version <= len(record.versions):
            structure = record.versions[version - 1]
        else:
            raise ServiceError(
                "PipelineVersionNotFoundException",
                f"Pipeline '{record.name}' does not have version {version}",
            )
        return {
            "pipeline": masked_declaration(structure),
            "metadata": {"pipelineArn": record.arn, "created": record.created, "updated": record.updated},
        }

    def _update_pipeline(self, params: Json) -> Json:
        """UpdatePipeline: store a new version and cancel what runs under the old one."""
        declaration = self._check_declaration(params, None)
        record = self._pipeline(declaration["name"])
        self._check_role(declaration)
        default_type = declaration.get("pipelineType") or record.current.pipeline_type
        stored = normalize_declaration(
            declaration, version=len(record.versions) + 1, default_pipeline_type=default_type
        )
        restore_masked_secrets(stored, record.current)
        structure = parse_structure(stored)
        self.scheduler.jobs.register_custom_types(structure)
        record.versions.append(structure)
        record.updated = self.scheduler.clock.now()
        self.scheduler.executions.cancel_for_update(record)
        return {"pipeline": masked_declaration(structure)}

    def _delete_pipeline(self, params: Json) -> Json:
        """DeletePipeline: forget the pipeline and silence its timers and jobs."""
        record = self._pipelines.pop(params["name"], None)
        if record is not None:
            self.scheduler.executions.discard(record)
        return {}

    def _list_pipelines(self, params: Json) -> Json:
        """ListPipelines: one page of pipelines by name."""
        after = _PAGING.position(params.get("nextToken"), "ListPipelines", "")
        names = sorted(n for n in self._pipelines if not after or n > after)
        page, token = _PAGING.page(
            names,
            limit=params.get("maxResults") or 1000,
            operation="ListPipelines",
            scope="",
            position_of=lambda name: name,
        )
        response: Json = {
            "pipelines": [
                {
                    "name": name,
                    "version": (record := self._pipelines[name]).current.version,
                    "pipelineType": record.current.pipeline_type,
                    "executionMode": record.current.execution_mode,
                    "created": record.created,
                    "updated": record.updated,
                }
                for name in page
            ]
        }
        if token:
            response["nextToken"] = token
        return response

    # -- reads ------------------------------------------------------------------------------------------

    def _get_pipeline_state(self, params: Json) -> Json:
        """GetPipelineState: stages, transitions and latest action runs."""
        return render.pipeline_state(self._pipeline(params["name"]), self.region)

    def _get_pipeline_execution(self, params: Json) -> Json:
        """GetPipelineExecution: one execution's summary."""
        record = self._pipeline(params["pipelineName"])
        execution = self._execution(record, params["pipelineExecutionId"])
        return {"pipelineExecution": render.pipeline_execution(execution)}

    def _list_pipeline_executions(self, params: Json) -> Json:
        """ListPipelineExecutions: one newest-first page of executions."""
        record = self._pipeline(params["pipelineName"])
        stage_name = ((params.get("filter") or {}).get("succeededInStage") or {}).get("stageName")
        keep = None if stage_name is None else (lambda e: stage_name in e.succeeded_stages)
        page, token = _PAGING.page_from_end(
            record.order,
            token=params.get("nextToken"),
            limit=params.get("maxResults") or 100,
            operation="ListPipelineExecutions",
            scope=f"{record.name}|{stage_name or ''}",
            keep=keep,
            dropped=record.dropped_executions,
        )
        response: Json = {"pipelineExecutionSummaries": [render.execution_summary(e) for e in page]}
        if token:
            response["nextToken"] = token
        return response

    def _list_runs(
        self,
        params: Json,
        operation: str,
        pipeline_runs: Callable[[PipelineRecord], tuple[list[_Run], int]],
        execution_runs: Callable[[Execution], Sequence[_Run]],
        key: Callable[[_Run], tuple[str, str]],
        detail: Callable[[_Run, str], Json],
        field: str,
    ) -> Json:
        """ListActionExecutions / ListRuleExecutions: the same filters and pages over two histories.

        ``pipeline_runs`` / ``execution_runs`` pick the history of a pipeline (with how many of its runs
        retention forgot) / of one execution; ``key``
        names the action or rule a run belongs to, for the ``latestInPipelineExecution`` ``Latest`` range.
        """
        record = self._pipeline(params["pipelineName"])
        run_filter = params.get("filter") or {}
        dropped = 0
        latest = run_filter.get("latestInPipelineExecution")
        if latest:
            execution = self._execution(record, latest["pipelineExecutionId"])
            runs = execution_runs(execution)
            if latest.get("startTimeRange") == "Latest":
                newest = {key(run): run for run in runs}  # later runs overwrite earlier ones
                chosen = {id(run) for run in newest.values()}
                runs = [run for run in runs if id(run) in chosen]
            scope = f"{record.name}|latest|{execution.id}|{latest.get('startTimeRange')}"
        elif run_filter.get("pipelineExecutionId"):
            execution = self._execution(record, run_filter["pipelineExecutionId"])
            runs, scope = execution_runs(execution), f"{record.name}|{execution.id}"
        else:
            (runs, dropped), scope = pipeline_runs(record), record.name
        page, token = _PAGING.page_from_end(
            runs,
            token=params.get("nextToken"),
            limit=params.get("maxResults") or 100,
            operation=operation,
            scope=scope,
            dropped=dropped,
        )
        response: Json = {field: [detail(run, self.region) for run in page]}
        if token:
            response["nextToken"] = token
        return response

    def _list_action_executions(self, params: Json) -> Json:
        """ListActionExecutions: one newest-first page of action runs."""
        return self._list_runs(
            params,
            "ListActionExecutions",
            lambda pipeline: (pipeline.action_history, pipeline.dropped_action_runs),
            lambda execution: execution.action_runs,
            lambda run: (run.action.stage, run.action.name),
            render.action_execution_detail,
            "actionExecutionDetails",
        )

    def _list_rule_executions(self, params: Json) -> Json:
        """ListRuleExecutions: one newest-first page of rule runs."""
        return self._list_runs(
            params,
            "ListRuleExecutions",
            lambda pipeline: (pipeline.rule_history, pipeline.dropped_rule_runs),
            lambda execution: execution.rule_runs,
            lambda run: (run.condition.stage_run.stage.name, run.name),
            render.rule_execution_detail,
            "ruleExecutionDetails",
        )

    # -- starting, stopping, retrying -------------------------------------------------------------------

    def _start_pipeline_execution(self, params: Json) -> Json:
        """StartPipelineExecution: start an execution (once per client request token)."""
        record = self._pipeline(params["name"])
        token = params.get("clientRequestToken")
        if token is not None and token in record.client_tokens:
            return {"pipelineExecutionId": record.client_tokens[token]}
        structure = record.current
        variables: dict[str, str] = {}
        if params.get("variables"):
            declared = {name for name, _ in structure.variables}
            if structure.pipeline_type != "V2":
                raise ServiceError(
                    "ValidationException", "Pipeline variables can only be used with V2 pipelines"
                )
            for variable in params["variables"]:
                name = variable["name"]
                if name not in declared:
                    raise ServiceError(
                        "ValidationException",
                        f"Variable '{name}' is not declared in pipeline '{record.name}'",
                    )
                if name in variables:
                    raise ServiceError("ValidationException", f"Variable '{name}' is given more than once")
                variables[name] = variable["value"]
        revisions: dict[str, Revision] = {}
        sources = {a.name: a for a in structure.source_actions}
        for override in params.get("sourceRevisions") or ():
            action = sources.get(override["actionName"])
            if action is None:
                raise ServiceError(
                    "ValidationException",
                    f"Source action '{override['actionName']}' does not exist in pipeline '{record.name}'",
                )
            revisions[action.name] = self.scheduler.sources.new_revision(
                action, revision_id=override["revisionValue"]
            )
        self._check_cap(record)
        execution = self.scheduler.executions.start(
            record,
            trigger_type="StartPipelineExecution",
            trigger_detail=self.world.caller_arn,
            variables=variables,
            revisions=revisions,
        )
        if token is not None:
            record.client_tokens[token] = execution.id
        return {"pipelineExecutionId": execution.id}

    def _stop_pipeline_execution(self, params: Json) -> Json:
        """StopPipelineExecution: stop an execution, waiting for or abandoning its actions."""
        record = self._pipeline(params["pipelineName"])
        execution = self._execution(record, params["pipelineExecutionId"])
        abandon = bool(params.get("abandon", False))
        if execution.status == STOPPING:
            if not abandon or execution.stop_abandon:
                raise ServiceError(
                    "DuplicatedStopRequestException",
                    f"Pipeline execution '{execution.id}' is already being stopped"
                    + (" and abandoned" if execution.stop_abandon else ""),
                )
        elif execution.status != IN_PROGRESS:
            raise ServiceError(
                "PipelineExecutionNotStoppableException",
                f"Pipeline execution '{execution.id}' is {execution.status} and cannot be stopped",
            )
        self.scheduler.executions.stop(execution, abandon=abandon, reason=params.get("reason"))
        return {"pipelineExecutionId": execution.id}

    def _retry_stage_execution(self, params: Json) -> Json:
        """RetryStageExecution: run a stage's failed (or all) actions again in the same execution."""
        record = self._pipeline(params["pipelineName"])
        stage = self._stage(record, params["stageName"])
        execution_id = params["pipelineExecutionId"]
        mode = params["retryMode"]
        slot = record.slots.get(stage.name)
        latest = slot.latest if slot is not None else None
        execution = record.executions.get(execution_id)
        if latest is None:
            raise ServiceError(
                "StageNotRetryableException", f"Stage '{stage.name}' has no execution that could be retried"
            )
        if latest.execution.id != execution_id or execution is None:
            raise ServiceError(
                "NotLatestPipelineExecutionException",
                f"Pipeline execution '{execution_id}' is not the latest execution of stage '{stage.name}'",
            )
        not_retryable = ServiceError(
            "StageNotRetryableException",
            f"Stage '{stage.name}' of execution '{execution_id}' cannot be retried",
        )
        if execution.structure.version != record.current.version:
            raise not_retryable
        stage_run = latest
        if execution.status in (FAILED, STOPPED) and stage_run.status in (FAILED, STOPPED):
            pass
        elif (
            execution.status == IN_PROGRESS
            and stage_run.status == IN_PROGRESS
            and mode == "FAILED_ACTIONS"
            and not execution.cancel_requested
            and any(run.status == FAILED for run in stage_run.current.values())
        ):
            pass  # failed actions may be retried while their siblings still run
        else:
            raise not_retryable
        if execution.status not in LIVE_STATUSES:
            self._check_cap(record)
        self.scheduler.executions.retry(stage_run, mode)
        return {"pipelineExecutionId": execution.id}

    def _rollback_stage(self, params: Json) -> Json:
        """RollbackStage: start a rollback execution of one stage to an earlier successful execution."""
        record = self._pipeline(params["pipelineName"])
        stage = self._stage(record, params["stageName"])
        target = self._execution(record, params["targetPipelineExecutionId"])

        def unable(reason: str) -> ServiceError:
            """The UnableToRollbackStageException that refuses to roll this stage back, giving ``reason``."""
            return ServiceError(
                "UnableToRollbackStageException", f"Unable to roll back stage '{stage.name}': {reason}"
            )

        if record.current.execution_mode == MODE_PARALLEL:
            raise unable("rollback is not available in PARALLEL execution mode")
        if stage.index == 0:
            raise unable("a source stage cannot be rolled back")
        if target.execution_type == TYPE_ROLLBACK:
            raise unable("the target execution is itself a rollback")
        if target.structure.version != record.current.version:
            raise unable("the target execution ran under a different pipeline version")
        if self.scheduler.clock.now() - target.start > _HISTORY_SECONDS:
            raise ServiceError(
                "PipelineExecutionOutdatedException",
                f"Pipeline execution '{target.id}' is too old to roll back to",
            )
        if stage.name not in target.succeeded_stages:
            raise unable(f"the target execution did not succeed in stage '{stage.name}'")
        slot = record.slot(stage.name)
        if slot.lock is not None or (
            slot.latest is not None and slot.latest.status in (IN_PROGRESS, STOPPING)
        ):
            raise unable("the stage is currently running")
        execution = self.scheduler.executions.start(
            record,
            trigger_type="ManualRollback",
            trigger_detail=self.world.caller_arn,
            template=target,
            rollback_stage=stage,
        )
        return {"pipelineExecutionId": execution.id}

    def _override_stage_condition(self, params: Json) -> Json:
        """OverrideStageCondition: let a stage condition in progress count as met."""
        record = self._pipeline(params["pipelineName"])
        stage = self._stage(record, params["stageName"])
        slot = record.slots.get(stage.name)
        latest = slot.latest if slot is not None else None
        if latest is None or latest.execution.id != params["pipelineExecutionId"]:
            raise ServiceError(
                "NotLatestPipelineExecutionException",
                f"Pipeline execution '{params['pipelineExecutionId']}' is not the latest execution of stage "
                f"'{stage.name}'",
            )
        kind = "beforeEntry" if params["conditionType"] == "BEFORE_ENTRY" else "onSuccess"
        condition = latest.active_condition
        if condition is None or condition.kind != kind or condition.status != IN_PROGRESS:
            raise ServiceError(
                "ConditionNotOverridableException",
                f"The {params['conditionType']} condition of stage '{stage.name}' is not being evaluated",
            )
        self.scheduler.conditions.override(condition)
        return {}

    # -- transitions ------------------------------------------------------------------------------------

    def _transition_target(self, params: Json) -> tuple[PipelineRecord, StageDef, str]:
        """The transition of a stage a (Dis|En)ableStageTransition request names."""
        record = self._pipeline(params["pipelineName"])
        stage = self._stage(record, params["stageName"])
        return record, stage, params["transitionType"]

    def _disable_stage_transition(self, params: Json) -> Json:
        """DisableStageTransition: stop executions from moving through a transition."""
        record, stage, kind = self._transition_target(params)
        slot = record.slot(stage.name)
        transition = slot.inbound if kind == "Inbound" else slot.outbound
        now = self.scheduler.clock.now()
        if transition.enabled:
            transition.disabled_since = now  # T4 counts from the first disable, not from a new reason
        transition.enabled = False
        transition.reason = params["reason"]
        transition.changed_by = self.world.caller_arn
        transition.changed_at = now
        return {}

    def _enable_stage_transition(self, params: Json) -> Json:
        """EnableStageTransition: let waiting executions through a transition again."""
        record, stage, kind = self._transition_target(params)
        slot = record.slot(stage.name)
        transition = slot.inbound if kind == "Inbound" else slot.outbound
        if transition.enabled:
            return {}
        disabled_since = transition.disabled_since
        transition.enabled = True
        transition.reason = None
        transition.disabled_since = None
        transition.changed_by = self.world.caller_arn
        transition.changed_at = self.scheduler.clock.now()
        stages = record.current.stages
        index = stage.index if kind == "Inbound" else stage.index + 1
        if index < len(stages):
            self.scheduler.executions.resume_after_enable(
                record, record.slot(stages[index].name), disabled_since
            )
        return {}

    # -- approvals --------------------------------------------------------------------------------------

    def _action(self, params: Json, kind: str, label: str) -> tuple[PipelineRecord, ActionDef]:
        """The pipeline and action a PutApprovalResult / PutActionRevision names; the action must be ``kind``."""
        record = self._pipeline(params["pipelineName"])
        stage = self._stage(record, params["stageName"])
        action = stage.by_name.get(params["actionName"])
        if action is None or action.kind != kind:
            raise ServiceError(
                "ActionNotFoundException",
                f"{label} action '{params['actionName']}' does not exist in stage '{stage.name}'",
            )
        return record, action

    def _put_approval_result(self, params: Json) -> Json:
        """PutApprovalResult: approve or reject a pending manual approval by its token."""
        record, action = self._action(params, KIND_APPROVAL, "Approval")
        # The message never repeats the token: it may be a live token of another action, and error
        # messages end up in logs.
        invalid = ServiceError(
            "InvalidApprovalTokenException",
            f"The token is not valid for action '{action.name}': it has already received a response or "
            "has expired",
        )
        run = record.approvals.get(params["token"])
        if run is None or run.action.stage != action.stage or run.action.name != action.name:
            raise invalid
        if run.token_state == "answered":
            raise ServiceError(
                "ApprovalAlreadyCompletedException",
                f"The approval for action '{action.name}' has already been completed",
            )
        if run.token_state != "pending" or run.status != IN_PROGRESS:
            raise invalid
        result = params["result"]
        self.scheduler.approvals.answer(run, result["status"], result.get("summary", ""))
        return {"approvedAt": self.scheduler.clock.now()}

    # -- jobs -------------------------------------------------------------------------------------------

    def _job(self, job_id: str) -> Any:
        """The job ``job_id``, or JobNotFoundException."""
        job = self.scheduler.jobs.by_id.get(job_id)
        if job is None:
            raise ServiceError("JobNotFoundException", f"Job '{job_id}' does not exist")
        return job

    def _put_job_success_result(self, params: Json) -> Json:
        """PutJobSuccessResult: end a job successfully, or continue it with a continuation token."""
        job = self._job(params["jobId"])
        if job.status not in ("InProgress", "Dispatched"):
            raise ServiceError(
                "InvalidJobStateException", f"Job '{job.id}' is {job.status} and no longer accepts a result"
            )
        continuation = params.get("continuationToken")
        output_variables = params.get("outputVariables")
        if output_variables and continuation is not None:
            raise ServiceError(
                "ValidationException", "outputVariables can only be set when no continuationToken is given"
            )
        if output_variables:
            size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in output_variables.items())
            if size > _OUTPUT_VARIABLES_LIMIT:
                raise ServiceError(
                    "OutputVariablesSizeExceededException",
                    f"The output variables total {size} bytes; the limit is {_OUTPUT_VARIABLES_LIMIT}",
                )
        self.scheduler.jobs.succeed(
            job,
            continuation_token=continuation,
            details=params.get("executionDetails"),
            output_variables=output_variables,
            current_revision=params.get("currentRevision"),
        )
        return {}

    def _put_job_failure_result(self, params: Json) -> Json:
        """PutJobFailureResult: fail a job and its action."""
        job = self._job(params["jobId"])
        if job.status not in ("InProgress", "Dispatched"):
            raise ServiceError(
                "InvalidJobStateException", f"Job '{job.id}' is {job.status} and no longer accepts a result"
            )
        details = params["failureDetails"]
        self.scheduler.jobs.fail(job, details["type"], details["message"], details.get("externalExecutionId"))
        return {}

    def _poll_for_jobs(self, params: Json) -> Json:
        """PollForJobs: hand out queued jobs of a custom action type (they become Dispatched)."""
        type_id = params["actionTypeId"]
        key = (type_id["category"], type_id["provider"], type_id["version"])
        if type_id["owner"] != "Custom" or key not in self.scheduler.jobs.custom_types:
            raise ServiceError(
                "ActionTypeNotFoundException",
                f"Action type {type_id['category']}/{type_id['owner']}/{type_id['provider']}/"
                f"{type_id['version']} is not a custom action type in this account",
            )
        jobs = self.scheduler.jobs.poll(
            key, int(params.get("maxBatchSize") or 1), params.get("queryParam") or {}
        )
        return {
            "jobs": [
                {
                    "id": job.id,
                    "data": self.scheduler.jobs.data(job, for_lambda=False),
                    "nonce": job.nonce,
                    "accountId": self.world.account_id,
                }
                for job in jobs
            ]
        }

    def _acknowledge_job(self, params: Json) -> Json:
        """AcknowledgeJob: a dispatched job becomes InProgress."""
        job = self._job(params["jobId"])
        if params["nonce"] != job.nonce:
            raise ServiceError("InvalidNonceException", f"The nonce does not match job '{job.id}'")
        if job.status in ("Queued", "Dispatched"):
            job.status = "InProgress"
        return {"status": job.status}

    def _get_job_details(self, params: Json) -> Json:
        """GetJobDetails: one job's data."""
        job = self._job(params["jobId"])
        return {
            "jobDetails": {
                "id": job.id,
                "data": self.scheduler.jobs.data(job, for_lambda=False),
                "accountId": self.world.account_id,
            }
        }

    def _put_action_revision(self, params: Json) -> Json:
        """PutActionRevision: a source action's new revision, starting an execution when it is new."""
        record, action = self._action(params, KIND_SOURCE, "Source")
        given = params["actionRevision"]
        key = (action.name, str(given["revisionId"]))
        if key in record.seen_revisions:
            return {"newRevision": False, "pipelineExecutionId": record.seen_revisions[key]}
        self._check_cap(record)
        revision = Revision(
            revision_id=str(given["revisionId"]),
            change_id=str(given["revisionChangeId"]),
            summary=None,
            created=float(given["created"]),
        )
        record.source_heads[action.name] = revision
        execution = self.scheduler.executions.start(
            record,
            trigger_type="PutActionRevision",
            trigger_detail=self.world.caller_arn,
            revisions={action.name: revision},
        )
        record.seen_revisions[key] = execution.id
        return {"newRevision": True, "pipelineExecutionId": execution.id}

    # -- tags -------------------------------------------------------------------------------------------

    def _tagged(self, arn: str) -> PipelineRecord:
        """The tags of the resource an ARN names, or ResourceNotFoundException."""
        prefix = self._arn("")
        name = arn[len(prefix) :] if arn.startswith(prefix) else None
        record = self._pipelines.get(name) if name else None
        if record is None:
            raise ServiceError(
                "ResourceNotFoundException",
                f"The account with id '{self.world.account_id}' does not include a resource with ARN '{arn}'",
            )
        return record

    @staticmethod
    def _tag_list(record: PipelineRecord) -> list[Json]:
        """Tags as the API lists them."""
        return [{"key": k, "value": v} for k, v in sorted(record.tags.items())]

    def _list_tags_for_resource(self, params: Json) -> Json:
        """ListTagsForResource: a resource's tags."""
        return {"tags": self._tag_list(self._tagged(params["resourceArn"]))}

    def _tag_resource(self, params: Json) -> Json:
        """TagResource: add or replace tags of a resource."""
        record = self._tagged(params["resourceArn"])
        tags = params["tags"]
        self._check_tags(tags, record.tags, record.arn)
        record.tags.update({str(t["key"]): str(t["value"]) for t in tags})
        return {}

    def _untag_resource(self, params: Json) -> Json:
        """UntagResource: remove tags from a resource."""
        record = self._tagged(params["resourceArn"])
        for key in params["tagKeys"]:
            if str(key).startswith("aws:"):
                raise ServiceError("InvalidTagsException", "Not allowed to modify system tags.")
        for key in params["tagKeys"]:
            record.tags.pop(key, None)
        return {}

    # -- hooks for the scripting API --------------------------------------------------------------------

    def push_revision(
        self,
        pipeline: str,
        action_name: str | None = None,
        revision_id: str | None = None,
        branch: str | None = None,
        file_paths: Iterable[str] = (),
        tag: str | None = None,
        summary: str | None = None,
    ) -> str | None:
        """A new revision arrives at a source action; returns the execution it starts, if any.

        The revision becomes the action's newest (the next execution of any kind processes it). An
        execution starts only when the source's change detection would fire: a V2 trigger whose push
        filters match ``branch`` / ``tag`` / ``file_paths``, or (without a trigger) the action's own
        change detection — ``PollForSourceChanges`` / ``DetectChanges`` not ``"false"`` and the branch (or
        ECR image tag) being the configured one.

        Raises:
            LookupError: no such pipeline, or no such source action in it.
        """
        paths = tuple(file_paths)
        return self.scheduler.clock.serve(
            lambda: self._push_revision(pipeline, action_name, revision_id, branch, paths, tag, summary)
        )

    def _push_revision(
        self,
        pipeline: str,
        action_name: str | None,
        revision_id: str | None,
        branch: str | None,
        file_paths: tuple[str, ...],
        tag: str | None,
        summary: str | None,
    ) -> str | None:
        """Record a pushed source revision and start the execution its trigger would (a scripting hook)."""
        record = self._pipelines.get(pipeline)
        if record is None:
            raise LookupError(f"no pipeline named {pipeline!r} in {self.world.account_id}/{self.region}")
        structure = record.current
        sources = {a.name: a for a in structure.source_actions}
        if action_name is None:
            action = structure.source_actions[0]
        elif action_name in sources:
            action = sources[action_name]
        else:
            raise LookupError(
                f"pipeline {pipeline!r} has no source action {action_name!r}; it has {sorted(sources)}"
            )
        revision = self.scheduler.sources.new_revision(
            action, revision_id=revision_id, summary=summary, branch=branch
        )
        record.source_heads[action.name] = revision
        trigger = self._change_trigger(structure, action, branch, tag, file_paths)
        if trigger is None:
            return None
        try:
            self._check_cap(record)
        except ServiceError:
            logger.info("pipeline %s is at its concurrency cap; the new revision starts nothing", pipeline)
            return None
        execution = self.scheduler.executions.start(
            record, trigger_type=trigger[0], trigger_detail=trigger[1], revisions={action.name: revision}
        )
        return execution.id

    @staticmethod
    def _change_trigger(
        structure: Structure,
        action: ActionDef,
        branch: str | None,
        tag: str | None,
        file_paths: tuple[str, ...],
    ) -> tuple[str, str | None] | None:
        """(triggerType, triggerDetail) of the execution a pushed revision starts, or None (triggers only apply to connection sources)."""
        config = action.configuration
        pushed_branch = branch or config.get("BranchName") or ""
        triggers = [
            t
            for t in structure.triggers
            if (t.get("gitConfiguration") or {}).get("sourceActionName") == action.name
        ]
        if triggers:
            # A trigger replaces the default change detection of its source: only its filters count.
            for trigger in triggers:
                for push in trigger["gitConfiguration"].get("push") or ():
                    if tag is not None:
                        matched = bool(push.get("tags")) and filter_matches(push["tags"], [tag])
                    else:
                        matched = (
                            not push.get("tags")
                            and filter_matches(push.get("branches"), [pushed_branch])
                            and (not push.get("filePaths") or filter_matches(push["filePaths"], file_paths))
                        )
                    if matched:
                        return "WebhookV2", config.get("ConnectionArn")
            return None
        provider = action.provider
        if provider == "ECR":
            wanted = config.get("ImageTag", "latest")
            return ("CloudWatchEvent", None) if tag is None or tag == wanted else None
        if tag is not None:
            return None  # without a trigger, pushing a tag starts nothing
        if branch is not None and config.get("BranchName") not in (None, branch):
            return None
        if provider == "CodeStarSourceConnection":
            if config.get("DetectChanges", "true").lower() == "false":
                return None
            return ("WebhookV2" if structure.pipeline_type == "V2" else "Webhook"), config.get(
                "ConnectionArn"
            )
        if config.get("PollForSourceChanges", "true").lower() == "false":
            return None
        return "PollForSourceChanges", None
