"""Pipeline declarations as typed, immutable data: what ``GetPipeline`` returns and ``UpdatePipeline`` takes.

Each class is named after the shape in botocore's CodePipeline service model (``PipelineDeclaration``,
``StageDeclaration``, ``ActionDeclaration``, ...). Python attributes are snake_case; ``from_api(d)`` reads the
camelCase wire dict once and ``to_api()`` writes it back, and the two are lossless:
``X.from_api(d).to_api() == d`` (key order aside) for every declaration AWS can return:

* a member that was absent stays absent (``None``), so ``"inputArtifacts": []`` and no ``inputArtifacts`` at
  all, or a missing ``runOrder`` and ``"runOrder": 1``, come back exactly as they were read;
* members pipepilot does not model (fields AWS adds after this release) are kept verbatim in each object's
  ``extra`` mapping and written back, so an update through pipepilot never drops them;
* values of an unexpected type are never coerced or lost: the attribute reads as absent and the raw value
  rides in ``extra`` (validation then reports it);
* enumerations (:class:`ActionCategory`, :class:`PipelineType`, ...) map known strings to members and keep
  values AWS adds later as plain ``str``.

Editing is immutable: every ``with_*``/``without_*``/``replace_*``/``map_*`` method and ``evolve`` returns a
new object and keeps unknown members. Look-ups by name raise :class:`~pipepilot.errors.StageNotFoundError`
or :class:`~pipepilot.errors.ActionNotFoundError`, listing the names that do exist::

    decl = PipelineDocument.from_json(text).declaration
    build = decl.stage("Build").action("Compile")
    decl = decl.map_action("Build", "Compile", lambda a: a.with_configuration(ProjectName="other"))
    client.update_pipeline(pipeline=decl.validate().to_api())

These classes do no I/O; :mod:`pipepilot.pipelines` sends them to AWS.
"""

from __future__ import annotations

import copyreg
import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final

import attrs

from pipepilot.errors import (
    ActionNotFoundError,
    MalformedInputError,
    NestingTooDeepError,
    NoSuchActionError,
    NoSuchStageError,
    PipelineValidationError,
    StageNotFoundError,
)
from pipepilot.model import _wire as wire
from pipepilot.model._wire import (
    ABSENT_STR,
    EMPTY_EXTRA,
    TypedWireModel,
    WireEnum,
    add_extra,
    copy_json,
    extra_field,
    keys_only_repr,
    load_json,
    nested_within,
    require_mapping,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    # Most of these are named only in the TypedWireModel["..."] bases (the to_api return types): strings in a
    # base class are no type reference to ruff, so it would call the imports unused.
    from mypy_boto3_codepipeline.type_defs import (  # noqa: F401
        ActionDeclarationOutputTypeDef,
        ActionTypeIdTypeDef,
        ArtifactStoreTypeDef,
        BeforeEntryConditionsOutputTypeDef,
        BlockerDeclarationTypeDef,
        ConditionOutputTypeDef,
        EncryptionKeyTypeDef,
        EnvironmentVariableTypeDef,
        FailureConditionsOutputTypeDef,
        GitBranchFilterCriteriaOutputTypeDef,
        GitConfigurationOutputTypeDef,
        GitFilePathFilterCriteriaOutputTypeDef,
        GitPullRequestFilterOutputTypeDef,
        GitPushFilterOutputTypeDef,
        GitTagFilterCriteriaOutputTypeDef,
        InputArtifactTypeDef,
        OutputArtifactOutputTypeDef,
        PipelineDeclarationOutputTypeDef,
        PipelineTriggerDeclarationOutputTypeDef,
        PipelineVariableDeclarationTypeDef,
        RetryConfigurationTypeDef,
        RuleDeclarationOutputTypeDef,
        RuleTypeIdTypeDef,
        StageDeclarationOutputTypeDef,
        SuccessConditionsOutputTypeDef,
    )

    from pipepilot.model.validation import Problem

__all__ = [
    "DEFAULT_PIPELINE_TYPE",
    "ActionCategory",
    "ActionDeclaration",
    "ActionOwner",
    "ActionTypeId",
    "ArtifactStore",
    "ArtifactStoreType",
    "BeforeEntryConditions",
    "BlockerDeclaration",
    "BlockerType",
    "Condition",
    "ConditionResult",
    "EncryptionKey",
    "EncryptionKeyType",
    "EnvironmentVariable",
    "EnvironmentVariableType",
    "ExecutionMode",
    "FailureConditions",
    "GitBranchFilterCriteria",
    "GitConfiguration",
    "GitFilePathFilterCriteria",
    "GitPullRequestEventType",
    "GitPullRequestFilter",
    "GitPushFilter",
    "GitTagFilterCriteria",
    "InputArtifact",
    "OutputArtifact",
    "PipelineDeclaration",
    "PipelineDocument",
    "PipelineMetadata",
    "PipelineTriggerDeclaration",
    "PipelineTriggerProviderType",
    "PipelineType",
    "PipelineVariableDeclaration",
    "RetryConfiguration",
    "RuleCategory",
    "RuleDeclaration",
    "RuleOwner",
    "RuleTypeId",
    "StageDeclaration",
    "StageRetryMode",
    "SuccessConditions",
]


# ------------------------------------------------------------------------------------------- enumerations


class ActionCategory(WireEnum):
    """What an action does (``actionTypeId.category``). Unknown categories are kept as plain ``str``."""

    SOURCE = "Source"
    BUILD = "Build"
    DEPLOY = "Deploy"
    TEST = "Test"
    INVOKE = "Invoke"
    APPROVAL = "Approval"
    COMPUTE = "Compute"


class ActionOwner(WireEnum):
    """Who provides an action type (``actionTypeId.owner``)."""

    AWS = "AWS"
    THIRD_PARTY = "ThirdParty"
    CUSTOM = "Custom"


class PipelineType(WireEnum):
    """The pipeline type; V2 adds variables, triggers, stage conditions and other execution modes."""

    V1 = "V1"
    V2 = "V2"


#: The type of a pipeline whose declaration names none. Since December 2024 CodePipeline creates such a
#: pipeline as V2 (AWS's announcement to its users: "AWS CodePipeline will create pipelines as a V2 type
#: when the pipeline type is not specified", for the SDK, CLI, CloudFormation and CDK alike); existing V1
#: pipelines stay V1, and ``GetPipeline`` names their type. The validator, the summaries and the offline
#: engine all assume this one default.
DEFAULT_PIPELINE_TYPE: Final = PipelineType.V2


class ExecutionMode(WireEnum):
    """How concurrent executions of one pipeline interact (AWS default: ``SUPERSEDED``)."""

    QUEUED = "QUEUED"
    SUPERSEDED = "SUPERSEDED"
    PARALLEL = "PARALLEL"


class ArtifactStoreType(WireEnum):
    """The kind of artifact store; only S3 exists today."""

    S3 = "S3"


class EncryptionKeyType(WireEnum):
    """The kind of artifact encryption key; only KMS exists today."""

    KMS = "KMS"


class BlockerType(WireEnum):
    """The kind of a (reserved) stage blocker."""

    SCHEDULE = "Schedule"


class EnvironmentVariableType(WireEnum):
    """Where a Commands-action environment variable's value comes from."""

    PLAINTEXT = "PLAINTEXT"
    SECRETS_MANAGER = "SECRETS_MANAGER"


class ConditionResult(WireEnum):
    """What a stage condition does when it is not met (AWS's shape name: ``Result``)."""

    ROLLBACK = "ROLLBACK"
    FAIL = "FAIL"
    RETRY = "RETRY"
    SKIP = "SKIP"


class StageRetryMode(WireEnum):
    """Which actions an automatic stage retry runs again."""

    FAILED_ACTIONS = "FAILED_ACTIONS"
    ALL_ACTIONS = "ALL_ACTIONS"


class RuleCategory(WireEnum):
    """The category of a condition rule."""

    RULE = "Rule"


class RuleOwner(WireEnum):
    """Who provides a condition rule type."""

    AWS = "AWS"


class PipelineTriggerProviderType(WireEnum):
    """The source provider a trigger listens to."""

    CODE_STAR_SOURCE_CONNECTION = "CodeStarSourceConnection"


class GitPullRequestEventType(WireEnum):
    """A pull-request event a trigger can start on."""

    OPEN = "OPEN"
    UPDATED = "UPDATED"
    CLOSED = "CLOSED"


# ------------------------------------------------------------------------------------------------ helpers


def _reduce(model: Any, placeholder: Any, name: str) -> Any:
    """Pickle/copy support that keeps a missing-member placeholder the very same object.

    ``to_api()`` recognises a placeholder by identity (that is what tells "member missing" from "member
    present but empty"), so a copied declaration must get the module's placeholder back, not a lookalike.
    """
    if model is placeholder:
        return name
    return (copyreg.__newobj__, (type(model),), model.__getstate__())  # type: ignore[attr-defined]  # not in typeshed


def _names(items: Sequence[Any]) -> tuple[str, ...]:
    return tuple(item.name for item in items)


def _index(items: Sequence[Any], name: str) -> int:
    for position, item in enumerate(items):
        if item.name == name:
            return position
    return -1


def _require(value: Any, model: type, role: str) -> None:
    """Refuse a ``value`` that is not a ``model`` before it ends up deep inside a declaration.

    Raises:
        TypeError: *value* is not a *model* (a ``map_*`` callback that forgot to return, a wire dict, ...).
    """
    if not isinstance(value, model):
        article = "an" if model.__name__[:1] in "AEIOU" else "a"
        raise TypeError(
            f"{role} must be {article} {model.__name__} (read a wire dict with {model.__name__}.from_api()), "
            f"got {type(value).__name__}"
        )


def _listing(names: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in names) if names else "none"


def _inserted(
    items: tuple[Any, ...],
    new: Any,
    *,
    before: str | None,
    after: str | None,
    missing: Callable[[str], Exception],
) -> tuple[Any, ...]:
    """*items* with *new* appended, or placed before/after the item of that name."""
    if before is not None and after is not None:
        raise TypeError("give before= or after=, not both")
    anchor = before if before is not None else after
    if anchor is None:
        return (*items, new)
    position = _index(items, anchor)
    if position < 0:
        raise missing(anchor)
    if after is not None:
        position += 1
    return (*items[:position], new, *items[position:])


# ------------------------------------------------------------------------------------------------ actions


@attrs.frozen(kw_only=True)
class ActionTypeId(TypedWireModel["ActionTypeIdTypeDef"]):
    """Identifies an action type: category, owner, provider and version (``actionTypeId``).

    ``category`` and ``owner`` are :class:`ActionCategory`/:class:`ActionOwner` members, or plain ``str`` for
    values AWS added after this release. ``extra`` keeps unknown members (old responses carry
    ``"__type": "ActionTypeId"`` here).
    """

    category: ActionCategory | str = attrs.field(metadata=wire.enum_of(ActionCategory))
    owner: ActionOwner | str = attrs.field(metadata=wire.enum_of(ActionOwner))
    provider: str = attrs.field(metadata=wire.string())
    version: str = attrs.field(metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()

    # A big pipeline repeats a handful of action types: read each as one shared instance.
    _wire_intern: ClassVar[bool] = True

    def __reduce__(self) -> Any:
        return _reduce(self, _ABSENT_ACTION_TYPE_ID, "_ABSENT_ACTION_TYPE_ID")

    def __str__(self) -> str:
        return f"{self.category}/{self.owner}/{self.provider}/{self.version}"


# What an action's ``actionTypeId`` reads as when the input lacked it: to_api() knows it by identity.
_ABSENT_ACTION_TYPE_ID: Final = ActionTypeId(
    category=ABSENT_STR, owner=ABSENT_STR, provider=ABSENT_STR, version=ABSENT_STR
)


@attrs.frozen(kw_only=True)
class InputArtifact(TypedWireModel["InputArtifactTypeDef"]):
    """An artifact an action consumes, by name (an earlier action's output)."""

    name: str = attrs.field(metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()

    # Actions name the same few artifacts as inputs over and over (output names are unique: not interned).
    _wire_intern: ClassVar[bool] = True


@attrs.frozen(kw_only=True)
class OutputArtifact(TypedWireModel["OutputArtifactOutputTypeDef"]):
    """An artifact an action produces; ``files`` lists the paths a Commands action exports."""

    name: str = attrs.field(metadata=wire.string())
    files: tuple[str, ...] | None = attrs.field(default=None, metadata=wire.strings())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class EnvironmentVariable(TypedWireModel["EnvironmentVariableTypeDef"]):
    """An environment variable of a Commands (Compute) action.

    ``value`` is left out of ``repr()``: plaintext values are sometimes secrets people should not have put
    there, and logs should not spread them further.
    """

    name: str = attrs.field(metadata=wire.string())
    value: str = attrs.field(repr=False, metadata=wire.string())
    type: EnvironmentVariableType | str | None = attrs.field(
        default=None, metadata=wire.enum_of(EnvironmentVariableType)
    )
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ActionDeclaration(TypedWireModel["ActionDeclarationOutputTypeDef"]):
    """One action of a stage: its type, configuration, artifacts and run order.

    Optional members read as ``None`` when the declaration left them out, and stay out on ``to_api()``;
    the ``*_effective`` properties and ``*_names`` helpers apply AWS's defaults for reading.

    ``repr()`` shows configuration keys but not their values: configuration can hold secrets (a GitHub
    ``OAuthToken``, for instance).

    Attributes:
        name: the action name, unique within its stage.
        action_type_id: category, owner, provider and version.
        run_order: the action group within the stage (AWS default 1); ``None`` when not given.
        configuration: provider-specific settings (string to string); ``None`` when not given.
        commands: shell commands of a Commands (Compute) action.
        output_artifacts / input_artifacts: artifacts produced and consumed.
        output_variables: variable names a Commands action exports.
        role_arn: the role the action assumes, when not the pipeline's.
        region: the region the action runs in, when not the pipeline's.
        namespace: the variable namespace of the action's output variables.
        timeout_in_minutes: only honoured for manual approvals.
        environment_variables: environment of a Commands action.
        extra: members pipepilot does not model, kept verbatim.
    """

    name: str = attrs.field(metadata=wire.string())
    action_type_id: ActionTypeId = attrs.field(
        metadata=wire.struct(ActionTypeId, placeholder=_ABSENT_ACTION_TYPE_ID)
    )
    run_order: int | None = attrs.field(default=None, metadata=wire.integer())
    configuration: Mapping[str, str] | None = attrs.field(
        default=None, repr=keys_only_repr, hash=False, metadata=wire.string_map()
    )
    commands: tuple[str, ...] | None = attrs.field(default=None, metadata=wire.strings())
    output_artifacts: tuple[OutputArtifact, ...] | None = attrs.field(
        default=None, metadata=wire.structs(OutputArtifact)
    )
    input_artifacts: tuple[InputArtifact, ...] | None = attrs.field(
        default=None, metadata=wire.structs(InputArtifact)
    )
    output_variables: tuple[str, ...] | None = attrs.field(default=None, metadata=wire.strings())
    role_arn: str | None = attrs.field(default=None, metadata=wire.string())
    region: str | None = attrs.field(default=None, metadata=wire.string())
    namespace: str | None = attrs.field(default=None, metadata=wire.string())
    timeout_in_minutes: int | None = attrs.field(default=None, metadata=wire.integer())
    environment_variables: tuple[EnvironmentVariable, ...] | None = attrs.field(
        default=None, metadata=wire.structs(EnvironmentVariable)
    )
    extra: Mapping[str, Any] = extra_field()

    # -- reading helpers --------------------------------------------------------------------------------

    @property
    def category(self) -> ActionCategory | str:
        """The action's category (shortcut for ``action_type_id.category``)."""
        return self.action_type_id.category

    @property
    def owner(self) -> ActionOwner | str:
        """The action type's owner (shortcut for ``action_type_id.owner``)."""
        return self.action_type_id.owner

    @property
    def provider(self) -> str:
        """The action's provider, e.g. ``"CodeBuild"`` (shortcut for ``action_type_id.provider``)."""
        return self.action_type_id.provider

    @property
    def run_order_effective(self) -> int:
        """The run order AWS uses: ``run_order``, or 1 when the declaration leaves it out."""
        return 1 if self.run_order is None else self.run_order

    @property
    def input_artifact_names(self) -> tuple[str, ...]:
        """Names of the input artifacts, in order (empty when there are none)."""
        return _names(self.input_artifacts or ())

    @property
    def output_artifact_names(self) -> tuple[str, ...]:
        """Names of the output artifacts, in order (empty when there are none)."""
        return _names(self.output_artifacts or ())

    # -- editing ------------------------------------------------------------------------------------------

    def evolve(self, **changes: Any) -> ActionDeclaration:
        """A copy with the given attributes replaced (``attrs.evolve``); unknown members are kept."""
        return attrs.evolve(self, **changes)

    def with_configuration(self, **settings: str) -> ActionDeclaration:
        """A copy whose configuration has *settings* added or replaced (other keys kept)."""
        configuration = dict(self.configuration or {})
        configuration.update(settings)
        return attrs.evolve(self, configuration=configuration)

    def without_configuration(self, *keys: str) -> ActionDeclaration:
        """A copy whose configuration lacks *keys* (keys that are not there are ignored)."""
        if self.configuration is None:
            return self
        return attrs.evolve(
            self, configuration={key: value for key, value in self.configuration.items() if key not in keys}
        )


# ------------------------------------------------------------------------------------- stage conditions


@attrs.frozen(kw_only=True)
class RuleTypeId(TypedWireModel["RuleTypeIdTypeDef"]):
    """Identifies a condition rule type (``ruleTypeId``): category, owner, provider, version."""

    category: RuleCategory | str = attrs.field(metadata=wire.enum_of(RuleCategory))
    owner: RuleOwner | str | None = attrs.field(default=None, metadata=wire.enum_of(RuleOwner))
    provider: str = attrs.field(metadata=wire.string())
    version: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()

    def __reduce__(self) -> Any:
        return _reduce(self, _ABSENT_RULE_TYPE_ID, "_ABSENT_RULE_TYPE_ID")


_ABSENT_RULE_TYPE_ID: Final = RuleTypeId(category=ABSENT_STR, provider=ABSENT_STR)


@attrs.frozen(kw_only=True)
class RuleDeclaration(TypedWireModel["RuleDeclarationOutputTypeDef"]):
    """A rule inside a stage condition (for example a ``VariableCheck`` or ``LambdaInvoke`` rule).

    ``repr()`` shows configuration keys but not their values.
    """

    name: str = attrs.field(metadata=wire.string())
    rule_type_id: RuleTypeId = attrs.field(metadata=wire.struct(RuleTypeId, placeholder=_ABSENT_RULE_TYPE_ID))
    configuration: Mapping[str, str] | None = attrs.field(
        default=None, repr=keys_only_repr, hash=False, metadata=wire.string_map()
    )
    commands: tuple[str, ...] | None = attrs.field(default=None, metadata=wire.strings())
    input_artifacts: tuple[InputArtifact, ...] | None = attrs.field(
        default=None, metadata=wire.structs(InputArtifact)
    )
    role_arn: str | None = attrs.field(default=None, metadata=wire.string())
    region: str | None = attrs.field(default=None, metadata=wire.string())
    timeout_in_minutes: int | None = attrs.field(default=None, metadata=wire.integer())
    extra: Mapping[str, Any] = extra_field()

    def evolve(self, **changes: Any) -> RuleDeclaration:
        """A copy with the given attributes replaced; unknown members are kept."""
        return attrs.evolve(self, **changes)


@attrs.frozen(kw_only=True)
class Condition(TypedWireModel["ConditionOutputTypeDef"]):
    """A stage condition: rules to evaluate and the result to apply when they are not met."""

    result: ConditionResult | str | None = attrs.field(default=None, metadata=wire.enum_of(ConditionResult))
    rules: tuple[RuleDeclaration, ...] | None = attrs.field(
        default=None, metadata=wire.structs(RuleDeclaration)
    )
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class RetryConfiguration(TypedWireModel["RetryConfigurationTypeDef"]):
    """How a failed stage is retried automatically (``onFailure.retryConfiguration``)."""

    retry_mode: StageRetryMode | str | None = attrs.field(default=None, metadata=wire.enum_of(StageRetryMode))
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class BeforeEntryConditions(TypedWireModel["BeforeEntryConditionsOutputTypeDef"]):
    """Conditions checked before a stage is entered (``beforeEntry``)."""

    conditions: tuple[Condition, ...] = attrs.field(metadata=wire.structs(Condition))
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class SuccessConditions(TypedWireModel["SuccessConditionsOutputTypeDef"]):
    """Conditions checked after a stage succeeded (``onSuccess``)."""

    conditions: tuple[Condition, ...] = attrs.field(metadata=wire.structs(Condition))
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class FailureConditions(TypedWireModel["FailureConditionsOutputTypeDef"]):
    """What happens when a stage fails (``onFailure``): a result, a retry configuration, conditions."""

    result: ConditionResult | str | None = attrs.field(default=None, metadata=wire.enum_of(ConditionResult))
    retry_configuration: RetryConfiguration | None = attrs.field(
        default=None, metadata=wire.struct(RetryConfiguration)
    )
    conditions: tuple[Condition, ...] | None = attrs.field(default=None, metadata=wire.structs(Condition))
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class BlockerDeclaration(TypedWireModel["BlockerDeclarationTypeDef"]):
    """A stage blocker (a reserved member of the API)."""

    name: str = attrs.field(metadata=wire.string())
    type: BlockerType | str = attrs.field(metadata=wire.enum_of(BlockerType))
    extra: Mapping[str, Any] = extra_field()


# ------------------------------------------------------------------------------------------------- stages


@attrs.frozen(kw_only=True)
class StageDeclaration(TypedWireModel["StageDeclarationOutputTypeDef"]):
    """One stage: its actions (in declaration order) and its optional conditions.

    Look an action up with :meth:`action`; edit with :meth:`with_action`, :meth:`replace_action`,
    :meth:`without_action`, :meth:`map_action` and :meth:`evolve`, each returning a new stage.
    """

    name: str = attrs.field(metadata=wire.string())
    blockers: tuple[BlockerDeclaration, ...] | None = attrs.field(
        default=None, metadata=wire.structs(BlockerDeclaration)
    )
    actions: tuple[ActionDeclaration, ...] = attrs.field(metadata=wire.structs(ActionDeclaration))
    on_failure: FailureConditions | None = attrs.field(default=None, metadata=wire.struct(FailureConditions))
    on_success: SuccessConditions | None = attrs.field(default=None, metadata=wire.struct(SuccessConditions))
    before_entry: BeforeEntryConditions | None = attrs.field(
        default=None, metadata=wire.struct(BeforeEntryConditions)
    )
    extra: Mapping[str, Any] = extra_field()

    # -- reading helpers --------------------------------------------------------------------------------

    @property
    def action_names(self) -> tuple[str, ...]:
        """The action names, in declaration order."""
        return _names(self.actions)

    def has_action(self, name: str) -> bool:
        """Tell whether the stage has an action called *name*."""
        return _index(self.actions, name) >= 0

    def action(self, name: str) -> ActionDeclaration:
        """The action called *name*.

        Raises:
            ActionNotFoundError: no action has that name; ``available`` lists the stage's action names.
        """
        position = _index(self.actions, name)
        if position < 0:
            raise self._missing_action(name)
        return self.actions[position]

    def action_groups(self) -> tuple[tuple[int, tuple[ActionDeclaration, ...]], ...]:
        """The actions grouped by effective run order, groups ascending: the order AWS runs them in.

        Actions of one group start together; each group starts when the previous one succeeded.
        """
        groups: dict[int, list[ActionDeclaration]] = {}
        for action in self.actions:
            groups.setdefault(action.run_order_effective, []).append(action)
        return tuple((order, tuple(groups[order])) for order in sorted(groups))

    # -- editing ------------------------------------------------------------------------------------------

    def evolve(self, **changes: Any) -> StageDeclaration:
        """A copy with the given attributes replaced (``attrs.evolve``); unknown members are kept."""
        return attrs.evolve(self, **changes)

    def with_action(
        self, action: ActionDeclaration, *, before: str | None = None, after: str | None = None
    ) -> StageDeclaration:
        """A copy with *action* added: at the end, or just before/after the action of that name.

        Raises:
            MalformedInputError: the stage already has an action of that name.
            ActionNotFoundError: *before*/*after* names no action of this stage.
            TypeError: *action* is not an :class:`ActionDeclaration`, or both *before* and *after* were given.
        """
        _require(action, ActionDeclaration, "the action to add")
        if self.has_action(action.name):
            raise MalformedInputError(
                f"stage {self.name!r} already has an action named {action.name!r}; "
                "use replace_action() to change it"
            )
        actions = _inserted(self.actions, action, before=before, after=after, missing=self._missing_action)
        return attrs.evolve(self, actions=actions)

    def replace_action(self, name: str, action: ActionDeclaration) -> StageDeclaration:
        """A copy with the action called *name* replaced by *action*, in the same position.

        Raises:
            ActionNotFoundError: no action has that name.
            MalformedInputError: *action* is renamed to the name of another action of this stage.
            TypeError: *action* is not an :class:`ActionDeclaration`.
        """
        position = _index(self.actions, name)
        if position < 0:
            raise self._missing_action(name)
        _require(action, ActionDeclaration, f"the replacement of action {name!r}")
        if action.name != name and self.has_action(action.name):
            raise MalformedInputError(
                f"stage {self.name!r} already has an action named {action.name!r}; action names must be "
                "unique within a stage"
            )
        actions = (*self.actions[:position], action, *self.actions[position + 1 :])
        return attrs.evolve(self, actions=actions)

    def without_action(self, name: str) -> StageDeclaration:
        """A copy without the action called *name*.

        Raises:
            ActionNotFoundError: no action has that name.
        """
        position = _index(self.actions, name)
        if position < 0:
            raise self._missing_action(name)
        return attrs.evolve(self, actions=(*self.actions[:position], *self.actions[position + 1 :]))

    def map_action(
        self, name: str, change: Callable[[ActionDeclaration], ActionDeclaration]
    ) -> StageDeclaration:
        """A copy with the action called *name* replaced by ``change(action)``.

        Raises:
            ActionNotFoundError: no action has that name.
            MalformedInputError: *change* renames it to the name of another action of this stage.
            TypeError: *change* returned something else than an :class:`ActionDeclaration`.
        """
        return self.replace_action(name, change(self.action(name)))

    def _missing_action(self, name: str) -> ActionNotFoundError:
        names = self.action_names
        return NoSuchActionError(
            f"stage {self.name!r} has no action named {name!r}; its actions are: {_listing(names)}",
            name=name,
            available=names,
        )


# ----------------------------------------------------------------------------------------- artifact store


@attrs.frozen(kw_only=True)
class EncryptionKey(TypedWireModel["EncryptionKeyTypeDef"]):
    """The KMS key that encrypts the artifact store: a key id, ARN or alias."""

    id: str = attrs.field(metadata=wire.string())
    type: EncryptionKeyType | str = attrs.field(metadata=wire.enum_of(EncryptionKeyType))
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ArtifactStore(TypedWireModel["ArtifactStoreTypeDef"]):
    """Where a pipeline keeps its artifacts: an S3 bucket (``location``) and optional encryption key."""

    type: ArtifactStoreType | str = attrs.field(metadata=wire.enum_of(ArtifactStoreType))
    location: str = attrs.field(metadata=wire.string())
    encryption_key: EncryptionKey | None = attrs.field(default=None, metadata=wire.struct(EncryptionKey))
    extra: Mapping[str, Any] = extra_field()


# ---------------------------------------------------------------------------------- variables and triggers


@attrs.frozen(kw_only=True)
class PipelineVariableDeclaration(TypedWireModel["PipelineVariableDeclarationTypeDef"]):
    """A pipeline-level variable (V2), referenced as ``#{variables.NAME}``."""

    name: str = attrs.field(metadata=wire.string())
    default_value: str | None = attrs.field(default=None, metadata=wire.string())
    description: str | None = attrs.field(default=None, metadata=wire.string())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class GitBranchFilterCriteria(TypedWireModel["GitBranchFilterCriteriaOutputTypeDef"]):
    """Branch name patterns a trigger filter includes and excludes."""

    includes: tuple[str, ...] | None = attrs.field(default=None, metadata=wire.strings())
    excludes: tuple[str, ...] | None = attrs.field(default=None, metadata=wire.strings())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class GitTagFilterCriteria(TypedWireModel["GitTagFilterCriteriaOutputTypeDef"]):
    """Tag name patterns a push filter includes and excludes."""

    includes: tuple[str, ...] | None = attrs.field(default=None, metadata=wire.strings())
    excludes: tuple[str, ...] | None = attrs.field(default=None, metadata=wire.strings())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class GitFilePathFilterCriteria(TypedWireModel["GitFilePathFilterCriteriaOutputTypeDef"]):
    """File path patterns a trigger filter includes and excludes."""

    includes: tuple[str, ...] | None = attrs.field(default=None, metadata=wire.strings())
    excludes: tuple[str, ...] | None = attrs.field(default=None, metadata=wire.strings())
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class GitPushFilter(TypedWireModel["GitPushFilterOutputTypeDef"]):
    """Which pushes start the pipeline: tag, branch and file path criteria."""

    tags: GitTagFilterCriteria | None = attrs.field(default=None, metadata=wire.struct(GitTagFilterCriteria))
    branches: GitBranchFilterCriteria | None = attrs.field(
        default=None, metadata=wire.struct(GitBranchFilterCriteria)
    )
    file_paths: GitFilePathFilterCriteria | None = attrs.field(
        default=None, metadata=wire.struct(GitFilePathFilterCriteria)
    )
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class GitPullRequestFilter(TypedWireModel["GitPullRequestFilterOutputTypeDef"]):
    """Which pull-request events start the pipeline, narrowed by branch and file path criteria."""

    events: tuple[GitPullRequestEventType | str, ...] | None = attrs.field(
        default=None, metadata=wire.enums_of(GitPullRequestEventType)
    )
    branches: GitBranchFilterCriteria | None = attrs.field(
        default=None, metadata=wire.struct(GitBranchFilterCriteria)
    )
    file_paths: GitFilePathFilterCriteria | None = attrs.field(
        default=None, metadata=wire.struct(GitFilePathFilterCriteria)
    )
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class GitConfiguration(TypedWireModel["GitConfigurationOutputTypeDef"]):
    """A trigger's Git settings: the source action it watches and its push / pull-request filters."""

    source_action_name: str = attrs.field(metadata=wire.string())
    push: tuple[GitPushFilter, ...] | None = attrs.field(default=None, metadata=wire.structs(GitPushFilter))
    pull_request: tuple[GitPullRequestFilter, ...] | None = attrs.field(
        default=None, metadata=wire.structs(GitPullRequestFilter)
    )
    extra: Mapping[str, Any] = extra_field()

    def __reduce__(self) -> Any:
        return _reduce(self, _ABSENT_GIT_CONFIGURATION, "_ABSENT_GIT_CONFIGURATION")


_ABSENT_GIT_CONFIGURATION: Final = GitConfiguration(source_action_name=ABSENT_STR)


@attrs.frozen(kw_only=True)
class PipelineTriggerDeclaration(TypedWireModel["PipelineTriggerDeclarationOutputTypeDef"]):
    """A V2 trigger: which source provider it listens to and its Git filters."""

    provider_type: PipelineTriggerProviderType | str = attrs.field(
        metadata=wire.enum_of(PipelineTriggerProviderType)
    )
    git_configuration: GitConfiguration = attrs.field(
        metadata=wire.struct(GitConfiguration, placeholder=_ABSENT_GIT_CONFIGURATION)
    )
    extra: Mapping[str, Any] = extra_field()


# ----------------------------------------------------------------------------------------------- pipeline


@attrs.frozen(kw_only=True)
class PipelineDeclaration(TypedWireModel["PipelineDeclarationOutputTypeDef"]):
    """A whole pipeline definition: the ``pipeline`` object of ``GetPipeline``/``UpdatePipeline``.

    Read one with :meth:`from_api` (the bare ``pipeline`` object; :class:`PipelineDocument` reads a whole
    ``GetPipeline`` response or a ``--cli-input-json`` file) and send it with ``to_api()``.

    Look-ups: :meth:`stage`, :meth:`action`, :meth:`actions`, :attr:`stage_names`. Edits (each returns a new
    declaration, unknown members kept): :meth:`with_stage`, :meth:`replace_stage`, :meth:`without_stage`,
    :meth:`map_stage`, the action counterparts :meth:`with_action`, :meth:`replace_action`,
    :meth:`without_action`, :meth:`map_action`, and :meth:`evolve`. Checks: :meth:`problems`,
    :meth:`validate`.

    Attributes:
        name: the pipeline name (``UpdatePipeline`` cannot change it).
        role_arn: the service role CodePipeline assumes.
        artifact_store / artifact_stores: one store, or one per region (exactly one of them is set).
        stages: the stages, in order.
        version: the structure version (AWS sets it; ignored on create).
        execution_mode: ``None`` when not given (AWS then uses ``SUPERSEDED``).
        pipeline_type: ``None`` when not given (see :attr:`pipeline_type_effective`).
        variables / triggers: V2 pipeline variables and triggers.
        extra: members pipepilot does not model, kept verbatim.
    """

    name: str = attrs.field(metadata=wire.string())
    role_arn: str = attrs.field(metadata=wire.string())
    artifact_store: ArtifactStore | None = attrs.field(default=None, metadata=wire.struct(ArtifactStore))
    artifact_stores: Mapping[str, ArtifactStore] | None = attrs.field(
        default=None, hash=False, metadata=wire.struct_map(ArtifactStore)
    )
    stages: tuple[StageDeclaration, ...] = attrs.field(metadata=wire.structs(StageDeclaration))
    version: int | None = attrs.field(default=None, metadata=wire.integer())
    execution_mode: ExecutionMode | str | None = attrs.field(
        default=None, metadata=wire.enum_of(ExecutionMode)
    )
    pipeline_type: PipelineType | str | None = attrs.field(default=None, metadata=wire.enum_of(PipelineType))
    variables: tuple[PipelineVariableDeclaration, ...] | None = attrs.field(
        default=None, metadata=wire.structs(PipelineVariableDeclaration)
    )
    triggers: tuple[PipelineTriggerDeclaration, ...] | None = attrs.field(
        default=None, metadata=wire.structs(PipelineTriggerDeclaration)
    )
    extra: Mapping[str, Any] = extra_field()

    # -- reading helpers --------------------------------------------------------------------------------

    @property
    def stage_names(self) -> tuple[str, ...]:
        """The stage names, in order."""
        return _names(self.stages)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> PipelineDeclaration:
        """Read a ``PipelineDeclaration`` wire object (the ``pipeline`` member of ``GetPipeline``).

        Raises:
            MalformedInputError: *data* is not a mapping, or it is a whole ``GetPipeline`` response
                (a ``pipeline`` object and no ``stages``): pass ``response["pipeline"]``, or read it with
                :meth:`PipelineDocument.from_api`.
            NestingTooDeepError: a value nests deeper than any AWS structure (``path`` says where).
        """
        if type(data) is not dict:
            data = require_mapping(data, cls)
        if "stages" not in data and isinstance(data.get("pipeline"), Mapping):
            raise MalformedInputError(
                "PipelineDeclaration.from_api() was given a whole GetPipeline response (its keys: "
                f'{_listing(list(data))}); pass response["pipeline"], or read the declaration with its '
                "metadata with PipelineDocument.from_api(response)",
                path="",
            )
        return super().from_api(data)

    @property
    def pipeline_type_effective(self) -> PipelineType | str:
        """The pipeline type: ``pipeline_type``, or :data:`DEFAULT_PIPELINE_TYPE` (V2) when left out."""
        return DEFAULT_PIPELINE_TYPE if self.pipeline_type is None else self.pipeline_type

    @property
    def execution_mode_effective(self) -> ExecutionMode | str:
        """The execution mode: ``execution_mode``, or ``SUPERSEDED`` (AWS's default) when left out."""
        return ExecutionMode.SUPERSEDED if self.execution_mode is None else self.execution_mode

    def has_stage(self, name: str) -> bool:
        """Tell whether the pipeline has a stage called *name*."""
        return _index(self.stages, name) >= 0

    def stage(self, name: str) -> StageDeclaration:
        """The stage called *name*.

        Raises:
            StageNotFoundError: no stage has that name; ``available`` lists the pipeline's stage names.
        """
        position = _index(self.stages, name)
        if position < 0:
            raise self._missing_stage(name)
        return self.stages[position]

    def action(self, stage_name: str, action_name: str) -> ActionDeclaration:
        """The action called *action_name* in the stage called *stage_name*.

        Raises:
            StageNotFoundError: no stage has that name.
            ActionNotFoundError: the stage has no action of that name; ``available`` lists its actions.
        """
        return self.stage(stage_name).action(action_name)

    def actions(self) -> Iterator[tuple[StageDeclaration, ActionDeclaration]]:
        """Every ``(stage, action)`` pair, stage by stage, in declaration order."""
        for stage in self.stages:
            for action in stage.actions:
                yield stage, action

    # -- editing ------------------------------------------------------------------------------------------

    def evolve(self, **changes: Any) -> PipelineDeclaration:
        """A copy with the given attributes replaced (``attrs.evolve``); unknown members are kept."""
        return attrs.evolve(self, **changes)

    def with_stage(
        self, stage: StageDeclaration, *, before: str | None = None, after: str | None = None
    ) -> PipelineDeclaration:
        """A copy with *stage* added: at the end, or just before/after the stage of that name.

        Raises:
            MalformedInputError: the pipeline already has a stage of that name.
            StageNotFoundError: *before*/*after* names no stage.
            TypeError: *stage* is not a :class:`StageDeclaration`, or both *before* and *after* were given.
        """
        _require(stage, StageDeclaration, "the stage to add")
        if self.has_stage(stage.name):
            raise MalformedInputError(
                f"pipeline {self.name!r} already has a stage named {stage.name!r}; use replace_stage() to change it"
            )
        stages = _inserted(self.stages, stage, before=before, after=after, missing=self._missing_stage)
        return attrs.evolve(self, stages=stages)

    def replace_stage(self, name: str, stage: StageDeclaration) -> PipelineDeclaration:
        """A copy with the stage called *name* replaced by *stage*, in the same position.

        Raises:
            StageNotFoundError: no stage has that name.
            MalformedInputError: *stage* is renamed to the name of another stage.
            TypeError: *stage* is not a :class:`StageDeclaration`.
        """
        position = _index(self.stages, name)
        if position < 0:
            raise self._missing_stage(name)
        _require(stage, StageDeclaration, f"the replacement of stage {name!r}")
        if stage.name != name and self.has_stage(stage.name):
            raise MalformedInputError(
                f"pipeline {self.name!r} already has a stage named {stage.name!r}; stage names must be unique"
            )
        return attrs.evolve(self, stages=(*self.stages[:position], stage, *self.stages[position + 1 :]))

    def without_stage(self, name: str) -> PipelineDeclaration:
        """A copy without the stage called *name*.

        Raises:
            StageNotFoundError: no stage has that name.
        """
        position = _index(self.stages, name)
        if position < 0:
            raise self._missing_stage(name)
        return attrs.evolve(self, stages=(*self.stages[:position], *self.stages[position + 1 :]))

    def map_stage(
        self, name: str, change: Callable[[StageDeclaration], StageDeclaration]
    ) -> PipelineDeclaration:
        """A copy with the stage called *name* replaced by ``change(stage)``.

        Raises:
            StageNotFoundError: no stage has that name.
            MalformedInputError: *change* renames it to the name of another stage.
            TypeError: *change* returned something else than a :class:`StageDeclaration`.
        """
        return self.replace_stage(name, change(self.stage(name)))

    def with_action(
        self,
        stage_name: str,
        action: ActionDeclaration,
        *,
        before: str | None = None,
        after: str | None = None,
    ) -> PipelineDeclaration:
        """A copy with *action* added to the stage called *stage_name* (see :meth:`StageDeclaration.with_action`).

        Raises:
            StageNotFoundError: no stage has that name.
            ActionNotFoundError: *before*/*after* names no action of that stage.
            MalformedInputError: the stage already has an action of that name.
            TypeError: *action* is not an :class:`ActionDeclaration`, or both *before* and *after* were given.
        """
        return self.map_stage(stage_name, lambda stage: stage.with_action(action, before=before, after=after))

    def replace_action(
        self, stage_name: str, action_name: str, action: ActionDeclaration
    ) -> PipelineDeclaration:
        """A copy with that action of that stage replaced by *action*.

        Raises:
            StageNotFoundError: no stage has that name.
            ActionNotFoundError: the stage has no action of that name.
            MalformedInputError: *action* is renamed to the name of another action of the stage.
            TypeError: *action* is not an :class:`ActionDeclaration`.
        """
        return self.map_stage(stage_name, lambda stage: stage.replace_action(action_name, action))

    def without_action(self, stage_name: str, action_name: str) -> PipelineDeclaration:
        """A copy without that action of that stage.

        Raises:
            StageNotFoundError: no stage has that name.
            ActionNotFoundError: the stage has no action of that name.
        """
        return self.map_stage(stage_name, lambda stage: stage.without_action(action_name))

    def map_action(
        self, stage_name: str, action_name: str, change: Callable[[ActionDeclaration], ActionDeclaration]
    ) -> PipelineDeclaration:
        """A copy with that action of that stage replaced by ``change(action)``.

        Raises:
            StageNotFoundError: no stage has that name.
            ActionNotFoundError: the stage has no action of that name.
            MalformedInputError: *change* renames it to the name of another action of the stage.
            TypeError: *change* returned something else than an :class:`ActionDeclaration`.
        """
        return self.map_stage(stage_name, lambda stage: stage.map_action(action_name, change))

    # -- checking -----------------------------------------------------------------------------------------

    def problems(
        self, *, region: str | None = None, default_pipeline_type: str = DEFAULT_PIPELINE_TYPE
    ) -> list[Problem]:
        """Every problem local validation finds, all at once (an empty list when the declaration is fine).

        Shape rules come from botocore's CodePipeline service model, semantic rules from pipepilot; see
        :func:`pipepilot.model.validation.find_problems`, which also explains *region* (the pipeline's
        region, for the cross-region rules) and *default_pipeline_type* (assumed when ``pipelineType`` is
        absent).
        """
        # Imported here: validation loads botocore's service model, which reading a declaration never needs.
        from pipepilot.model.validation import find_problems

        return find_problems(self.to_api(), region=region, default_pipeline_type=default_pipeline_type)

    def validate(
        self, *, region: str | None = None, default_pipeline_type: str = DEFAULT_PIPELINE_TYPE
    ) -> PipelineDeclaration:
        """Return this declaration unchanged if local validation finds no problem, so calls chain.

        The options are those of :meth:`problems`.

        Raises:
            PipelineValidationError: local validation found problems; ``problems`` lists all of them.
        """
        found = self.problems(region=region, default_pipeline_type=default_pipeline_type)
        if found:
            raise PipelineValidationError(problems=found, pipeline_name=self.name or None)
        return self

    def summary(self) -> str:
        """A short human-readable outline: type, mode, stages and their actions (no configuration values)."""
        type_text = f"{self.pipeline_type_effective}{'' if self.pipeline_type is not None else ' (default)'}"
        mode_text = (
            f"{self.execution_mode_effective}{'' if self.execution_mode is not None else ' (default)'}"
        )
        action_count = sum(len(stage.actions) for stage in self.stages)
        version = "" if self.version is None else f", version {self.version}"
        lines = [
            f"pipeline {self.name!r}: {type_text}, {mode_text}{version}, "
            f"{len(self.stages)} stage{'' if len(self.stages) == 1 else 's'}, "
            f"{action_count} action{'' if action_count == 1 else 's'}"
        ]
        for number, stage in enumerate(self.stages, start=1):
            lines.append(f"  {number}. {stage.name}")
            for order, group in stage.action_groups():
                for action in group:
                    flow = ""
                    if action.input_artifact_names or action.output_artifact_names:
                        flow = (
                            f"  {', '.join(action.input_artifact_names) or '-'}"
                            f" -> {', '.join(action.output_artifact_names) or '-'}"
                        )
                    lines.append(f"     [{order}] {action.name} ({action.action_type_id}){flow}")
        return "\n".join(lines)

    def _missing_stage(self, name: str) -> StageNotFoundError:
        names = self.stage_names
        return NoSuchStageError(
            f"pipeline {self.name!r} has no stage named {name!r}; its stages are: {_listing(names)}",
            name=name,
            available=names,
        )


# ------------------------------------------------------------------------------------ metadata, documents

# Metadata comes from boto3 (datetimes), raw JSON bodies (epoch seconds) and saved files (ISO-8601 strings).
_TIMESTAMP: Final = wire.timestamp(from_epoch=True, from_iso=True, keep_raw=True)


@attrs.frozen(kw_only=True)
class PipelineMetadata(TypedWireModel[dict[str, Any]]):
    """What ``GetPipeline`` says about a pipeline besides its declaration (its ``metadata``).

    Timestamps are aware UTC datetimes whatever form they were read from (epoch seconds on the wire,
    ISO-8601 strings in files saved by some tools, datetimes in the machine's zone in boto3 responses).
    ``raw_timestamps`` keeps the values exactly as read, so ``to_api()`` writes unchanged timestamps back in
    their original form (``to_api`` returns a plain dict rather than ``PipelineMetadataTypeDef``, whose
    timestamps are datetimes only).
    """

    pipeline_arn: str | None = attrs.field(default=None, metadata=wire.string())
    created: datetime | None = attrs.field(default=None, metadata=_TIMESTAMP)
    updated: datetime | None = attrs.field(default=None, metadata=_TIMESTAMP)
    polling_disabled_at: datetime | None = attrs.field(default=None, metadata=_TIMESTAMP)
    raw_timestamps: Mapping[str, Any] = attrs.field(default=EMPTY_EXTRA, repr=False, eq=False, hash=False)
    extra: Mapping[str, Any] = extra_field()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        # The wire form of a timestamp: epoch seconds.
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_DOCUMENT_DROPPED: Final = frozenset({"ResponseMetadata"})


@attrs.frozen(kw_only=True)
class PipelineDocument:
    """A declaration with its metadata: a whole ``GetPipeline`` response, or a pipeline JSON file.

    :meth:`from_api` reads a ``GetPipeline`` response (boto3's, or the raw JSON body); :meth:`from_json` reads
    the ``--cli-input-json`` file form ``{"pipeline": {...}}`` (with or without ``metadata``) and also a
    bare declaration as used with ``--pipeline file://...``. Unknown top-level members (``tags`` of a
    create-pipeline input, for instance) are kept in ``extra``; boto3's ``ResponseMetadata`` is transport
    detail and is dropped.
    """

    declaration: PipelineDeclaration
    metadata: PipelineMetadata | None = None
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, response: Mapping[str, Any]) -> PipelineDocument:
        """Read a ``GetPipeline`` response: ``{"pipeline": {...}, "metadata": {...}}``.

        Raises:
            MalformedInputError: *response* is not a mapping, or has no ``pipeline`` object.
        """
        response = require_mapping(response, cls)
        try:
            return cls._read(response)
        except NestingTooDeepError as error:
            raise nested_within(error, response) from None

    @classmethod
    def _read(cls, response: Mapping[str, Any]) -> PipelineDocument:
        pipeline = response.get("pipeline")
        if type(pipeline) is not dict and not isinstance(pipeline, Mapping):
            raise MalformedInputError(
                'a pipeline document needs a "pipeline" object (the declaration); '
                f"its top-level keys are: {_listing(list(response))}"
            )
        metadata = response.get("metadata")
        known = {"pipeline", "metadata"} if isinstance(metadata, Mapping) else {"pipeline"}
        extra = {
            key: copy_json(value)
            for key, value in response.items()
            if key not in known and key not in _DOCUMENT_DROPPED
        }
        return cls(
            declaration=PipelineDeclaration.from_api(pipeline),
            metadata=PipelineMetadata.from_api(metadata) if isinstance(metadata, Mapping) else None,
            extra=extra or EMPTY_EXTRA,
        )

    @classmethod
    def from_json(cls, text: str | bytes | bytearray) -> PipelineDocument:
        """Read pipeline JSON: ``{"pipeline": ...}`` (plus ``metadata``), or a bare declaration.

        Raises:
            MalformedInputError: the text is not JSON, or not a JSON object holding a pipeline.
        """
        try:
            data = load_json(text, what="pipeline JSON")
        except NestingTooDeepError:
            raise
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
            raise MalformedInputError(f"pipeline JSON does not parse: {exc}") from exc
        if type(data) is not dict:
            raise MalformedInputError(f"pipeline JSON must be an object, got {type(data).__name__}")
        if "pipeline" not in data and "stages" in data:
            return cls(declaration=PipelineDeclaration.from_api(data))
        return cls.from_api(data)

    def to_api(self) -> dict[str, Any]:
        """Write the document back: ``{"pipeline": ..., "metadata": ...}`` plus unknown members."""
        out: dict[str, Any] = {"pipeline": self.declaration.to_api()}
        if self.metadata is not None:
            out["metadata"] = self.metadata.to_api()
        if self.extra:
            add_extra(out, self.extra)
        return out

    def to_json(self, *, indent: int | None = 2, include_metadata: bool = True) -> str:
        """The document as JSON text; ``include_metadata=False`` gives ``--cli-input-json`` input.

        Timestamps changed since reading are written as epoch seconds, as the service sends them.
        """
        out = self.to_api()
        if not include_metadata:
            out.pop("metadata", None)
        return json.dumps(out, indent=indent, default=_json_default)
