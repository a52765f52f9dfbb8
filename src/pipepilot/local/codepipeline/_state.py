"""Records the CodePipeline engine keeps: parsed pipeline structures and run-time state.

Structures (:class:`Structure`, :class:`StageDef`, :class:`ActionDef`) are parsed once per pipeline
version and never change, so an execution keeps running under the version it started with even after an
``UpdatePipeline``. Run-time records (:class:`Execution`, :class:`StageRun`, :class:`ActionRun`, ...) are
mutable and reference each other directly; every lookup an operation needs is a dict or an attribute,
never a scan over the execution history.

Every record has a short ``repr`` naming only ids, names and statuses: the records form a cyclic graph
that reaches approval tokens (the keys of ``PipelineRecord.approvals``), job nonces, artifact credentials
and secret configuration values (``OAuthToken``), and a generated repr would print all of them (and tens of
kilobytes more) into any log line or assertion message that shows one record.
"""

from __future__ import annotations

import re
from collections import deque
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from pipepilot.local.clock import Timer

Json = dict[str, Any]

# -- status vocabulary ----------------------------------------------------------------------------------

IN_PROGRESS = "InProgress"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
STOPPING = "Stopping"
STOPPED = "Stopped"
SUPERSEDED = "Superseded"
CANCELLED = "Cancelled"
ABANDONED = "Abandoned"
SKIPPED = "Skipped"
OVERRIDDEN = "Overridden"

#: Execution statuses that count against the concurrency cap and can still change on their own.
LIVE_STATUSES = frozenset({IN_PROGRESS, STOPPING})

MODE_SUPERSEDED = "SUPERSEDED"
MODE_QUEUED = "QUEUED"
MODE_PARALLEL = "PARALLEL"

TYPE_STANDARD = "STANDARD"
TYPE_ROLLBACK = "ROLLBACK"

KIND_SOURCE = "source"
KIND_APPROVAL = "approval"
KIND_LAMBDA = "lambda"
KIND_CODEBUILD = "codebuild"
KIND_CUSTOM = "custom"
KIND_GENERIC = "generic"

#: Configuration keys whose values GetPipeline masks (and UpdatePipeline keeps when sent back masked).
SECRET_KEYS = frozenset({"OAuthToken"})
MASK = "****"


# -- structure ------------------------------------------------------------------------------------------


@attrs.define(eq=False)
class ActionDef:
    """One declared action, parsed."""

    name: str
    stage: str
    category: str
    owner: str
    provider: str
    version: str
    run_order: int
    configuration: dict[str, str] = attrs.field(repr=False)  # may hold OAuthToken
    input_artifacts: tuple[str, ...]
    output_artifacts: tuple[str, ...]
    namespace: str | None
    region: str | None
    role_arn: str | None
    timeout_minutes: int | None
    kind: str

    def __repr__(self) -> str:
        return f"<ActionDef {self.stage}/{self.name} {self.category}/{self.owner}/{self.provider}>"

    def type_id(self) -> Json:
        """The ``actionTypeId`` structure."""
        return {
            "category": self.category,
            "owner": self.owner,
            "provider": self.provider,
            "version": self.version,
        }


@attrs.define(eq=False)
class StageDef:
    """One declared stage, parsed: actions grouped by ascending runOrder."""

    name: str
    index: int
    actions: tuple[ActionDef, ...]
    groups: tuple[tuple[ActionDef, ...], ...]
    by_name: dict[str, ActionDef]
    before_entry: Json | None
    on_success: Json | None
    on_failure: Json | None

    def __repr__(self) -> str:
        return f"<StageDef {self.index}:{self.name} actions={[a.name for a in self.actions]}>"


@attrs.define(eq=False)
class Structure:
    """One version of a pipeline: the stored declaration and its parsed form."""

    version: int
    declaration: Json
    stages: tuple[StageDef, ...]
    stage_index: dict[str, int]
    execution_mode: str
    pipeline_type: str
    variables: tuple[tuple[str, str | None], ...]
    triggers: tuple[Json, ...]
    has_secrets: bool

    def __repr__(self) -> str:
        name = self.declaration.get("name")
        return f"<Structure {name} v{self.version} {self.pipeline_type} {self.execution_mode}>"

    @property
    def source_actions(self) -> tuple[ActionDef, ...]:
        """The actions of the first stage (R2: all of them are Source actions)."""
        return self.stages[0].actions

    def stage(self, name: str) -> StageDef | None:
        """The stage called ``name``, or None."""
        index = self.stage_index.get(name)
        return None if index is None else self.stages[index]

    def artifact_bucket(self, region: str) -> str:
        """The artifact bucket for actions running in ``region``."""
        store: Json | None = self.declaration.get("artifactStore")
        if store is None:
            stores: dict[str, Json] = self.declaration.get("artifactStores") or {}
            store = stores.get(region) or next(iter(stores.values()), {})
        return str(store.get("location", "codepipeline-artifacts"))

    def encryption_key(self, region: str) -> Json | None:
        """The artifact store's KMS key for ``region``, if one is configured."""
        store = self.declaration.get("artifactStore")
        if store is None:
            store = (self.declaration.get("artifactStores") or {}).get(region) or {}
        key = store.get("encryptionKey")
        return dict(key) if key else None


def _action_kind(category: str, owner: str, provider: str) -> str:
    """The engine's kind for an action type: source, manual approval, custom, AWS Lambda invoke, AWS
    CodeBuild, else generic.
    """
    if category == "Source":
        return KIND_SOURCE
    if category == "Approval" and provider == "Manual":
        return KIND_APPROVAL
    if owner == "Custom":
        return KIND_CUSTOM
    if owner == "AWS" and category == "Invoke" and provider == "Lambda":
        return KIND_LAMBDA
    if owner == "AWS" and provider == "CodeBuild":
        return KIND_CODEBUILD
    return KIND_GENERIC


def normalize_declaration(declaration: Json, *, version: int, default_pipeline_type: str) -> Json:
    """A deep copy of ``declaration`` as the service stores it: defaults filled, ``version`` set."""
    stored: Json = copy_json(declaration)
    stored["version"] = version
    stored.setdefault("executionMode", MODE_SUPERSEDED)
    stored.setdefault("pipelineType", default_pipeline_type)
    for stage in stored.get("stages", ()):
        for action in stage.get("actions", ()):
            action.setdefault("runOrder", 1)
            action.setdefault("configuration", {})
            action.setdefault("outputArtifacts", [])
            action.setdefault("inputArtifacts", [])
    return stored


def copy_json(value: Any) -> Any:
    """A deep copy of JSON-like data (dicts, lists, scalars); several times faster than ``copy.deepcopy``."""
    if type(value) is dict:
        return {key: copy_json(item) for key, item in value.items()}
    if type(value) is list or type(value) is tuple:
        return [copy_json(item) for item in value]
    return value


def parse_structure(stored: Json) -> Structure:
    """Parse a normalized declaration (see :func:`normalize_declaration`)."""
    stages: list[StageDef] = []
    has_secrets = False
    for index, stage in enumerate(stored["stages"]):
        actions: list[ActionDef] = []
        for action in stage["actions"]:
            type_id = action["actionTypeId"]
            configuration = {str(k): str(v) for k, v in (action.get("configuration") or {}).items()}
            has_secrets = has_secrets or not SECRET_KEYS.isdisjoint(configuration)
            actions.append(
                ActionDef(
                    name=action["name"],
                    stage=stage["name"],
                    category=type_id["category"],
                    owner=type_id["owner"],
                    provider=type_id["provider"],
                    version=type_id["version"],
                    run_order=int(action.get("runOrder") or 1),
                    configuration=configuration,
                    input_artifacts=tuple(a["name"] for a in action.get("inputArtifacts") or ()),
                    output_artifacts=tuple(a["name"] for a in action.get("outputArtifacts") or ()),
                    namespace=action.get("namespace"),
                    region=action.get("region"),
                    role_arn=action.get("roleArn"),
                    timeout_minutes=action.get("timeoutInMinutes"),
                    kind=_action_kind(type_id["category"], type_id["owner"], type_id["provider"]),
                )
            )
        orders = sorted({a.run_order for a in actions})
        groups = tuple(tuple(a for a in actions if a.run_order == order) for order in orders)
        stages.append(
            StageDef(
                name=stage["name"],
                index=index,
                actions=tuple(actions),
                groups=groups,
                by_name={a.name: a for a in actions},
                before_entry=stage.get("beforeEntry"),
                on_success=stage.get("onSuccess"),
                on_failure=stage.get("onFailure"),
            )
        )
    return Structure(
        version=int(stored["version"]),
        declaration=stored,
        stages=tuple(stages),
        stage_index={s.name: s.index for s in stages},
        execution_mode=stored.get("executionMode") or MODE_SUPERSEDED,
        pipeline_type=stored.get("pipelineType") or "V1",
        variables=tuple((v["name"], v.get("defaultValue")) for v in stored.get("variables") or ()),
        triggers=tuple(stored.get("triggers") or ()),
        has_secrets=has_secrets,
    )


def masked_declaration(structure: Structure) -> Json:
    """The declaration as GetPipeline shows it: secret configuration values replaced by asterisks."""
    if not structure.has_secrets:
        return structure.declaration
    shown: Json = copy_json(structure.declaration)
    for stage in shown["stages"]:
        for action in stage["actions"]:
            configuration = action.get("configuration") or {}
            for key in SECRET_KEYS.intersection(configuration):
                configuration[key] = MASK
    return shown


def restore_masked_secrets(new: Json, old: Structure) -> None:
    """Put back stored secrets that an UpdatePipeline request sent as the mask (same stage and action)."""
    if not old.has_secrets:
        return
    for stage in new.get("stages") or ():
        old_stage = old.stage(stage.get("name", ""))
        if old_stage is None:
            continue  # renaming the stage loses the secret, as in AWS
        for action in stage.get("actions") or ():
            old_action = old_stage.by_name.get(action.get("name", ""))
            configuration = action.get("configuration") or {}
            if old_action is None:
                continue
            for key in SECRET_KEYS.intersection(configuration):
                if configuration[key] == MASK and key in old_action.configuration:
                    configuration[key] = old_action.configuration[key]


# -- run-time records -----------------------------------------------------------------------------------


@attrs.frozen(weakref_slot=False)
class Artifact:
    """An artifact an action run reads or writes, and where it is in the artifact store.

    A finished execution keeps one of these per artifact for as long as it is kept, so it is a slotted
    record (about 56 bytes) rather than the ``{"name", "s3location": {"bucket", "key"}}`` answer shape
    (about 300 bytes); :meth:`to_api` builds that shape when an answer needs it. The name and the bucket
    are the declaration's own strings, shared by every run.
    """

    name: str
    bucket: str
    key: str

    def to_api(self) -> Json:
        """The ``{"name", "s3location": {"bucket", "key"}}`` shape the read APIs and events answer with."""
        return {"name": self.name, "s3location": {"bucket": self.bucket, "key": self.key}}


@attrs.define(eq=False)
class Revision:
    """A source revision (a commit, an S3 object version, an image digest)."""

    revision_id: str
    change_id: str
    summary: str | None
    created: float
    branch: str | None = None
    url: str | None = None


@attrs.define(eq=False)
class Transition:
    """A stage transition's state (inbound, or outbound which gates the next stage)."""

    enabled: bool = True
    reason: str | None = None
    changed_by: str | None = None
    changed_at: float | None = None
    #: When the transition was (first) disabled; the 30-day stale-transition rule counts from here.
    disabled_since: float | None = None


@attrs.define(eq=False)
class StageSlot:
    """Per-stage state shared by all executions: the lock, the waiting line and what the console shows."""

    name: str
    lock: Execution | None = None
    waiting: deque[Execution] = attrs.Factory(deque)
    #: The execution last shown as ``inboundExecution`` (kept after it is stopped, until replaced).
    inbound_shown: Execution | None = None
    latest: StageRun | None = None
    action_latest: dict[str, ActionRun] = attrs.Factory(dict)
    #: Newest standard execution that succeeded in this stage, per pipeline version (rollback target).
    last_succeeded: dict[int, Execution] = attrs.Factory(dict)
    inbound: Transition = attrs.Factory(Transition)
    outbound: Transition = attrs.Factory(Transition)

    def __repr__(self) -> str:
        lock = self.lock.id if self.lock is not None else None
        return f"<StageSlot {self.name} lock={lock} waiting={[e.id for e in self.waiting]}>"


@attrs.define(eq=False)
class RuleRun:
    """One evaluation of one condition rule."""

    id: str
    name: str
    declaration: Json
    condition: ConditionRun
    status: str
    start: float
    last_change: float
    summary: str | None = None
    error: tuple[str, str] | None = None
    resolved_configuration: dict[str, str] = attrs.Factory(dict)
    timer: Timer | None = None

    def __repr__(self) -> str:
        return f"<RuleRun {self.id} {self.condition.kind}/{self.name} {self.status}>"


@attrs.define(eq=False)
class ConditionRun:
    """One evaluation of a stage's beforeEntry / onSuccess / onFailure condition."""

    kind: str  # "beforeEntry" | "onSuccess" | "onFailure"
    result: str | None
    stage_run: StageRun
    status: str
    last_change: float
    summary: str | None = None
    rules: list[RuleRun] = attrs.Factory(list)
    #: What happens when the condition ends (succeeded, failed or overridden).
    callback: Callable[[ConditionRun], None] | None = attrs.field(default=None, repr=False)

    def __repr__(self) -> str:
        stage_run = self.stage_run
        return f"<ConditionRun {stage_run.stage.name}/{self.kind} {self.status} execution={stage_run.execution.id}>"


@attrs.define(eq=False)
class Job:
    """A job handed to a Lambda function or a custom-action worker."""

    id: str
    nonce: str = attrs.field(repr=False)
    run: ActionRun
    status: str
    created: float
    lambda_function: str | None
    continuation_token: str | None = attrs.field(default=None, repr=False)
    timer: Timer | None = None
    #: Credentials handed out with the job; generated once per job (never logged).
    credentials: dict[str, str] = attrs.field(factory=dict, repr=False)

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.status} action={self.run.action.stage}/{self.run.action.name}>"


@attrs.define(eq=False)
class ActionRun:
    """One run of one action in one execution (a retry creates a new run)."""

    id: str
    execution: Execution
    stage_run: StageRun
    action: ActionDef
    status: str
    start: float
    last_change: float
    resolved_configuration: dict[str, str]
    input_artifacts: tuple[Artifact, ...]
    output_artifacts: tuple[Artifact, ...]
    summary: str | None = None
    external_id: str | None = None
    external_url: str | None = None
    error: tuple[str, str] | None = None
    percent_complete: int | None = None
    updated_by: str | None = None
    output_variables: dict[str, str] | None = None
    #: Approval token; ``token_state`` is "pending", "answered" or "void" (expired / abandoned).
    token: str | None = attrs.field(default=None, repr=False)
    token_state: str | None = None
    timer: Timer | None = None
    job: Job | None = None
    revision: Revision | None = None

    def __repr__(self) -> str:
        action = self.action
        return (
            f"<ActionRun {self.id} {action.stage}/{action.name} {self.status} execution={self.execution.id}>"
        )


@attrs.define(eq=False)
class StageRun:
    """An execution's (latest) run through one stage."""

    execution: Execution
    stage: StageDef
    slot: StageSlot
    status: str
    start: float
    group_index: int = 0
    current: dict[str, ActionRun] = attrs.Factory(dict)
    conditions: dict[str, ConditionRun] = attrs.Factory(dict)
    active_condition: ConditionRun | None = None
    auto_retries: int = 0
    manual_retries: int = 0
    latest_retry_trigger: str | None = None

    def __repr__(self) -> str:
        return f"<StageRun {self.stage.name} {self.status} execution={self.execution.id}>"


@attrs.define(eq=False)
class Execution:
    """One pipeline execution."""

    id: str
    pipeline: PipelineRecord
    structure: Structure
    status: str
    trigger_type: str
    trigger_detail: str | None
    mode: str
    execution_type: str
    start: float
    last_update: float
    variables: dict[str, str]
    revisions: dict[str, Revision]
    status_summary: str | None = None
    rollback_target: str | None = None
    #: For a rollback execution: the only stage it runs.
    only_stage: str | None = None
    stop_reason: str | None = None
    stop_requested: bool = False
    stop_abandon: bool = False
    cancel_requested: bool = False
    #: Index of the stage the execution is in or waiting for; ``where`` says which.
    position: int = 0
    where: str = "new"  # "new" | "waiting" | "stage" | "done"
    current: StageRun | None = None
    stage_runs: dict[str, StageRun] = attrs.Factory(dict)
    namespaces: dict[str, dict[str, str]] = attrs.Factory(dict)
    artifacts: dict[str, Artifact] = attrs.Factory(dict)
    #: The source artifacts this execution processes, each with the revision it holds (the answer's
    #: ``artifactRevisions`` is built from these: the revision is the one the execution already keeps).
    artifact_revisions: tuple[tuple[str, Revision], ...] = ()
    action_runs: list[ActionRun] = attrs.Factory(list)
    #: A tuple: most executions run no rules, and one shared empty tuple costs nothing per execution.
    rule_runs: tuple[RuleRun, ...] = ()
    #: Names of the stages the execution succeeded in (a tuple: a handful of names, kept for a long time).
    succeeded_stages: tuple[str, ...] = ()
    attempt: int = 1

    def __repr__(self) -> str:
        return (
            f"<Execution {self.id} {self.pipeline.name} v{self.structure.version} {self.status} "
            f"{self.where} position={self.position}>"
        )


@attrs.define(eq=False)
class PipelineRecord:
    """A pipeline: every version of its structure and all of its run-time state."""

    name: str
    arn: str
    versions: list[Structure]
    created: float
    updated: float
    tags: dict[str, str] = attrs.Factory(dict)
    slots: dict[str, StageSlot] = attrs.Factory(dict)
    executions: dict[str, Execution] = attrs.Factory(dict)
    #: Executions in start order (ListPipelineExecutions reads it from the end).
    order: list[Execution] = attrs.Factory(list)
    #: InProgress and Stopping executions, by id (the concurrency cap counts them).
    live: dict[str, Execution] = attrs.Factory(dict)
    client_tokens: dict[str, str] = attrs.Factory(dict)
    #: Newest revision known per source action (what the next execution processes).
    source_heads: dict[str, Revision] = attrs.Factory(dict)
    #: Revision of the latest successful run per source action (``currentRevision``).
    source_current: dict[str, Revision] = attrs.Factory(dict)
    action_history: list[ActionRun] = attrs.Factory(list)
    rule_history: list[RuleRun] = attrs.Factory(list)
    #: Approval runs by token (the keys are secrets).
    approvals: dict[str, ActionRun] = attrs.field(factory=dict, repr=False)
    seen_revisions: dict[tuple[str, str], str] = attrs.Factory(dict)
    deleted: bool = False
    #: How many entries retention removed from ``order`` / ``action_history`` / ``rule_history``: page tokens
    #: count positions from the first entry ever appended, so they survive a clean-up.
    dropped_executions: int = 0
    dropped_action_runs: int = 0
    dropped_rule_runs: int = 0

    def __repr__(self) -> str:
        return f"<PipelineRecord {self.name} v{self.current.version} executions={len(self.executions)}>"

    @property
    def current(self) -> Structure:
        """The newest structure version."""
        return self.versions[-1]

    def slot(self, name: str) -> StageSlot:
        """The slot of stage ``name`` (created on first use)."""
        slot = self.slots.get(name)
        if slot is None:
            slot = self.slots[name] = StageSlot(name=name)
        return slot


# -- small helpers --------------------------------------------------------------------------------------

_VARIABLE = re.compile(r"#\{([^}]*)\}")


def resolve_text(text: str, lookup: dict[str, dict[str, str]]) -> tuple[str, list[str]]:
    """``text`` with ``#{Namespace.Name}`` references replaced, and the references that did not resolve."""
    if "#{" not in text:
        return text, []
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        """The value a ``#{Namespace.Name}`` match resolves to; an unresolved reference is kept as written and
        added to ``missing``.
        """
        namespace, _, name = match.group(1).partition(".")
        values = lookup.get(namespace)
        if values is None or name not in values:
            missing.append(match.group(1))
            return match.group(0)
        return values[name]

    return _VARIABLE.sub(replace, text), missing


def glob_matches(pattern: str, value: str) -> bool:
    """Git-trigger glob matching: ``**`` spans ``/``, ``*`` and ``?`` stay within a path segment."""
    return _compile_glob(pattern).fullmatch(value) is not None


_GLOB_CACHE: dict[str, re.Pattern[str]] = {}


def _compile_glob(pattern: str) -> re.Pattern[str]:
    """The regular expression of trigger glob ``pattern`` (``**``, ``*``, ``?``, ``{a,b}``, ``[...]``,
    ``[!...]``; an unclosed brace or bracket is literal), compiled once and kept in ``_GLOB_CACHE``.
    """
    compiled = _GLOB_CACHE.get(pattern)
    if compiled is not None:
        return compiled
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "{":
            end = pattern.find("}", i)
            if end == -1:
                out.append(re.escape(char))
            else:
                alternatives = pattern[i + 1 : end].split(",")
                out.append("(?:" + "|".join(re.escape(a) for a in alternatives) + ")")
                i = end + 1
                continue
        elif char == "[":
            end = pattern.find("]", i)
            if end == -1:
                out.append(re.escape(char))
            else:
                out.append(pattern[i : end + 1].replace("[!", "[^"))
                i = end + 1
                continue
        else:
            out.append(re.escape(char))
        i += 1
    compiled = _GLOB_CACHE[pattern] = re.compile("".join(out))
    return compiled


def filter_matches(criteria: Json | None, values: Iterable[str]) -> bool:
    """Whether any of ``values`` passes a trigger ``{includes, excludes}`` filter (no filter: all pass)."""
    if not criteria:
        return True
    includes = criteria.get("includes") or ()
    excludes = criteria.get("excludes") or ()
    for value in values:
        if includes and not any(glob_matches(p, value) for p in includes):
            continue
        if any(glob_matches(p, value) for p in excludes):
            continue
        return True
    return False
