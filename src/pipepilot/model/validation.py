"""Local validation of a pipeline declaration that reports every problem at once.

`find_problems` takes the bare `pipeline` object of the API (the dict sent to CreatePipeline/UpdatePipeline)
and returns a `Problem` per defect, sorted in document order. Two families of checks run:

* **Shape rules**, read at run time from botocore's CodePipeline model (`PipelineDeclaration`): types,
  required and unknown members, lengths, whole-string patterns, enum values, list sizes, numeric ranges.
  Codes: `type`, `required`, `unknown-member`, `too-short`, `too-long`, `pattern`, `enum`, `too-few`,
  `too-many`, `out-of-range`.
* **Semantic rules** from CodePipeline's pipeline structure reference and quotas (the service enforces them; the model cannot
  express them):

  ======================================  ================================================================
  code                                    rule
  ======================================  ================================================================
  too-few-stages                          a pipeline has at least 2 stages ...
  too-many-stages                         ... and at most 50
  first-stage-empty                       the first stage holds at least one (Source) action
  too-few-actions                         every other stage holds at least one action
  too-many-actions                        at most 50 actions per stage (this also bounds the quotas of 50
                                          parallel and 50 sequential actions per stage, which therefore
                                          need no code of their own)
  too-many-total-actions                  at most 500 actions per pipeline
  duplicate-stage-name                    stage names are unique
  duplicate-action-name                   action names are unique within their stage
  non-source-in-first-stage               the first stage holds only Source actions
  source-not-in-first-stage               Source actions appear only in the first stage
  duplicate-output-artifact               output artifact names are unique across the pipeline
  artifact-not-produced                   an input artifact that no action outputs
  artifact-produced-later                 an input artifact whose producer does not run strictly earlier
                                          (an earlier stage, or a lower runOrder in the same stage)
  too-few-input-artifacts                 artifact counts of the known AWS providers (AWS's action structure
  too-many-input-artifacts                reference); unknown providers and Custom actions are not checked
  too-few-output-artifacts                (their bounds live in the custom action type)
  too-many-output-artifacts
  primary-source-required                 a CodeBuild action with several inputs sets PrimarySource ...
  primary-source-unknown                  ... to one of its input artifact names
  artifact-store-missing                  one of artifactStore / artifactStores is required ...
  artifact-store-conflict                 ... but not both
  cross-region-requires-artifact-stores   an action outside the pipeline's region needs artifactStores
  artifact-store-region-missing           artifactStores covers the pipeline region and every action region
  cross-region-not-allowed                Source, ThirdParty and Custom actions stay in the pipeline region
  requires-v2                             QUEUED/PARALLEL mode, variables, triggers and stage conditions
                                          need a V2 pipeline
  rollback-in-parallel-mode               PARALLEL mode allows no ROLLBACK result
  timeout-not-allowed                     timeoutInMinutes only on Manual approval actions
  trigger-source-unknown                  a trigger names an action that is not a Source action
  trigger-source-not-connection           a trigger names a source action that is not
                                          CodeStarSourceConnection
  duplicate-trigger                       one trigger per source action
  duplicate-variable                      pipeline variable names are unique
  unknown-variable                        `#{variables.X}` names a declared pipeline variable
  duplicate-namespace                     action namespaces are unique across the pipeline
  unknown-namespace                       `#{NS.X}` names a namespace that some action declares ...
  namespace-declared-later                ... and that action runs strictly earlier (for stage condition
                                          rules: an earlier stage, or the same stage for onSuccess and
                                          onFailure)
  ======================================  ================================================================

Every problem is an error: each breaks either the service's validation or every run of the pipeline (an
unresolvable `#{...}` reference fails the action that uses it), so there is no warning level.
"""

from __future__ import annotations

import bisect
import difflib
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from pipepilot._shapes import check_shape, member_path, service_model
from pipepilot.model.declaration import DEFAULT_PIPELINE_TYPE

if TYPE_CHECKING:
    from botocore.model import Shape

__all__ = ["Problem", "find_problems"]

_MAX_STAGES = 50
_MIN_STAGES = 2
_MAX_ACTIONS_PER_STAGE = 50
_MAX_ACTIONS = 500
# Suggestions ("did you mean") compare a word with each candidate only in pools up to this size, and a
# message lists at most `_LISTED` names: both keep a problem's cost and size independent of the pipeline's.
_DIFFLIB_POOL = 50
_LISTED = 10

# Artifact counts per (category, owner, provider), from AWS's action structure reference (its page for each
# provider). Each entry is ((min inputs, max inputs), (min outputs, max outputs)). Providers not
# listed, and every Custom action (its bounds live in the custom action type), are not checked.
_ARTIFACT_BOUNDS: Mapping[tuple[str, str, str], tuple[tuple[int, int], tuple[int, int]]] = {
    ("Source", "AWS", "S3"): ((0, 0), (1, 1)),
    ("Source", "AWS", "CodeCommit"): ((0, 0), (1, 1)),
    ("Source", "AWS", "ECR"): ((0, 0), (1, 1)),
    ("Source", "AWS", "CodeStarSourceConnection"): ((0, 0), (1, 1)),
    ("Source", "ThirdParty", "GitHub"): ((0, 0), (1, 1)),
    ("Build", "AWS", "CodeBuild"): ((1, 5), (0, 5)),
    ("Test", "AWS", "CodeBuild"): ((1, 5), (0, 5)),
    ("Test", "AWS", "DeviceFarm"): ((1, 1), (0, 0)),
    ("Approval", "AWS", "Manual"): ((0, 0), (0, 0)),
    ("Invoke", "AWS", "Lambda"): ((0, 5), (0, 5)),
    ("Invoke", "AWS", "StepFunctions"): ((0, 1), (0, 1)),
    ("Deploy", "AWS", "CodeDeploy"): ((1, 1), (0, 0)),
    ("Deploy", "AWS", "CodeDeployToECS"): ((1, 5), (0, 0)),
    ("Deploy", "AWS", "ECS"): ((1, 1), (0, 0)),
    ("Deploy", "AWS", "CloudFormation"): ((0, 10), (0, 1)),
    ("Deploy", "AWS", "S3"): ((1, 1), (0, 0)),
    ("Deploy", "AWS", "ElasticBeanstalk"): ((1, 1), (0, 0)),
    ("Deploy", "AWS", "AppConfig"): ((1, 1), (0, 0)),
}

# Every code the semantic rules report (the module docstring explains each; tests check both stay in step).
_SEMANTIC_CODES = frozenset(
    {
        "too-few-stages",
        "too-many-stages",
        "first-stage-empty",
        "too-few-actions",
        "too-many-actions",
        "too-many-total-actions",
        "duplicate-stage-name",
        "duplicate-action-name",
        "non-source-in-first-stage",
        "source-not-in-first-stage",
        "duplicate-output-artifact",
        "artifact-not-produced",
        "artifact-produced-later",
        "too-few-input-artifacts",
        "too-many-input-artifacts",
        "too-few-output-artifacts",
        "too-many-output-artifacts",
        "primary-source-required",
        "primary-source-unknown",
        "artifact-store-missing",
        "artifact-store-conflict",
        "cross-region-requires-artifact-stores",
        "artifact-store-region-missing",
        "cross-region-not-allowed",
        "requires-v2",
        "rollback-in-parallel-mode",
        "timeout-not-allowed",
        "trigger-source-unknown",
        "trigger-source-not-connection",
        "duplicate-trigger",
        "duplicate-variable",
        "unknown-variable",
        "duplicate-namespace",
        "unknown-namespace",
        "namespace-declared-later",
    }
)
_STAGE_CONDITION_BLOCKS = ("beforeEntry", "onSuccess", "onFailure")
# `#{namespace.variable}`; both parts use the ActionNamespace / output-variable character set.
_REFERENCE = re.compile(r"#\{([A-Za-z0-9@_-]+)\.([A-Za-z0-9@_-]+)\}")
_PIPELINE_VARIABLES_NAMESPACE = "variables"
# `#{codepipeline.PipelineExecutionId}` is provided by CodePipeline itself and needs no declaration.
_BUILT_IN_NAMESPACES = frozenset({"codepipeline"})
_PATH_SEGMENT = re.compile(r"\.?([A-Za-z_@-][A-Za-z0-9_@-]*)|\[(\d+)\]|\[(\"(?:[^\"\\]|\\.)*\")\]")


@attrs.frozen(kw_only=True)
class Problem:
    """One defect of a pipeline declaration.

    `path` locates it in the `pipeline` object (`stages[2].actions[0].inputArtifacts[0].name`; empty for
    the pipeline itself), `code` is stable and meant for programs (see the module docstring for the list),
    and `message` says how to fix it.
    """

    path: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<pipeline>'}: {self.message} [{self.code}]"


@functools.cache
def _pipeline_shape() -> Shape:
    return service_model("codepipeline").shape_for("PipelineDeclaration")


def find_problems(
    pipeline: Mapping[str, Any],
    *,
    region: str | None = None,
    default_pipeline_type: str = DEFAULT_PIPELINE_TYPE,
) -> list[Problem]:
    """Return every problem of a pipeline declaration, in document order; an empty list means valid.

    `pipeline` is the bare `pipeline` object of the CodePipeline API (not the `{"pipeline": ...}` file
    form). Pass `region` (the region the pipeline lives in) to check the cross-region rules fully; without
    it, pipepilot assumes the pipeline region is the one region all actions name, if they agree, and
    otherwise checks only what holds whatever the region is.

    `default_pipeline_type` is the type assumed when `pipelineType` is absent. AWS documents that a
    declaration carrying V2 parameters (triggers, variables, QUEUED/PARALLEL, stage conditions) *becomes* a
    V2 pipeline when created or updated, so V2-only features are reported only against an explicit
    `pipelineType: "V1"` by default. Pass `"V1"` to be strict about declarations that name no type.

    Never raises for bad input: malformed parts are reported as problems and skipped by later rules.
    """
    problems = [
        Problem(path=found.path, code=found.code, message=found.message)
        for found in check_shape(_pipeline_shape(), pipeline)
    ]
    if isinstance(pipeline, Mapping):
        problems.extend(_SemanticCheck(pipeline, region, default_pipeline_type).run())
    return _in_document_order(pipeline, problems)


# --- a flat view of the actions ----------------------------------------------------------------------------


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


_EMPTY: Mapping[str, Any] = {}


def _mapping(value: object) -> Mapping[str, Any]:
    # Exact dicts are the common case; the Mapping ABC check is several times slower.
    return value if type(value) is dict or isinstance(value, Mapping) else _EMPTY


def _items(value: object) -> Sequence[Any]:
    return value if isinstance(value, (list, tuple)) else ()


def _artifact_names(value: object) -> list[tuple[int, str]]:
    names = []
    for index, item in enumerate(_items(value)):
        name = _mapping(item).get("name")
        if isinstance(name, str):
            names.append((index, name))
    return names


@attrs.define(kw_only=True)
class _Action:
    """What the semantic rules need to know about one action, read once from the declaration."""

    stage: int
    stage_name: str | None
    path: str
    name: str | None
    category: str | None
    owner: str | None
    provider: str | None
    run_order: int
    region: str | None
    namespace: str | None
    inputs: list[tuple[int, str]]
    outputs: list[tuple[int, str]]
    declaration: Mapping[str, Any]

    def runs_before(self, other: _Action) -> bool:
        """Whether this action finishes before `other` starts (earlier stage, or lower runOrder)."""
        return self.stage < other.stage or (self.stage == other.stage and self.run_order < other.run_order)

    def describe(self) -> str:
        return f"action {self.name!r} (stage {self.stage_name!r}, runOrder {self.run_order})"

    @classmethod
    def read(cls, stage: int, stage_name: str | None, path: str, data: Mapping[str, Any]) -> _Action:
        type_id = _mapping(data.get("actionTypeId"))
        run_order = data.get("runOrder", 1)
        return cls(
            stage=stage,
            stage_name=stage_name,
            path=path,
            name=_text(data.get("name")),
            category=_text(type_id.get("category")),
            owner=_text(type_id.get("owner")),
            provider=_text(type_id.get("provider")),
            # A malformed runOrder is a shape problem; order the action as the default group meanwhile.
            run_order=run_order if isinstance(run_order, int) and not isinstance(run_order, bool) else 1,
            region=_text(data.get("region")),
            namespace=_text(data.get("namespace")),
            inputs=_artifact_names(data.get("inputArtifacts")),
            outputs=_artifact_names(data.get("outputArtifacts")),
            declaration=data,
        )


def _closest(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _deletions(word: str) -> set[str]:
    """`word` and every string made by deleting one of its characters."""
    return {word, *(word[:cut] + word[cut + 1 :] for cut in range(len(word)))}


class _NearMisses:
    """Names a misspelt word may have meant, found without comparing the word with every name.

    difflib compares a word with each candidate, so suggesting a name for each of n broken actions costs
    n² comparisons: seconds for a 1,000-action declaration. This index maps every name, and each form of it
    with one character deleted, to the name; a word then finds the names one deletion away on each side (a
    typo, a missing or extra character, swapped neighbours) by looking up its own forms, whatever the
    number of names. Pools of at most `_DIFFLIB_POOL` names are still searched by difflib, which also finds
    looser matches.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self.names = list(dict.fromkeys(names))
        self._by_form: dict[str, list[tuple[int, str]]] | None = None

    def suggest(self, word: str, *, among_first: int | None = None) -> str:
        """`` (did you mean 'name'?)`` for the closest name, or an empty string.

        `among_first` limits the suggestions to the names that many places from the start (for artifacts:
        those produced before the action that asks).
        """
        limit = len(self.names) if among_first is None else among_first
        if len(self.names) <= _DIFFLIB_POOL:
            return _closest(word, self.names[:limit])
        if self._by_form is None:
            self._by_form = {}
            for position, name in enumerate(self.names):
                for form in _deletions(name):
                    self._by_form.setdefault(form, []).append((position, name))
        found = {
            name
            for form in _deletions(word)
            for position, name in self._by_form.get(form, ())
            if position < limit
        }
        # Rank at most a pool's worth, so that a word close to very many names still costs a bounded time.
        return _closest(word, sorted(found)[:_DIFFLIB_POOL])


def _listing(names: Sequence[str], *, of: str) -> str:
    """`names` joined for a message; a long list shows its count and first `_LISTED` names only."""
    if not names:
        return "none"
    if len(names) <= _LISTED:
        return ", ".join(names)
    return f"{len(names)} {of}, the first {', '.join(names[:_LISTED])}, …"


def _bounds(low: int, high: int, noun: str) -> str:
    if high == 0:
        return f"no {noun}s"
    plural = "s" if high != 1 else ""
    if low == high:
        return f"exactly {low} {noun}{plural}"
    if low == 0:
        return f"at most {high} {noun}{plural}"
    return f"{low} to {high} {noun}s"


def _with_article(word: str) -> str:
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"


class _SemanticCheck:
    """The structural rules and quotas over one declaration; `run()` returns their problems."""

    def __init__(self, pipeline: Mapping[str, Any], region: str | None, default_pipeline_type: str) -> None:
        self.pipeline = pipeline
        self.region = region
        self.default_pipeline_type = default_pipeline_type
        self.problems: list[Problem] = []
        self.stages: list[tuple[int, Mapping[str, Any]]] = [
            (index, stage)
            for index, stage in enumerate(_items(pipeline.get("stages")))
            if isinstance(stage, Mapping)
        ]
        self.actions: list[_Action] = []
        # Suggestions for misspelt variable and namespace references; check_variables fills them in.
        self.variable_names = self.namespace_names = _NearMisses(())
        for index, stage in self.stages:
            stage_name = _text(stage.get("name"))
            for position, action in enumerate(_items(stage.get("actions"))):
                if isinstance(action, Mapping):
                    path = f"stages[{index}].actions[{position}]"
                    self.actions.append(_Action.read(index, stage_name, path, action))

    def report(self, path: str, code: str, message: str) -> None:
        self.problems.append(Problem(path=path, code=code, message=message))

    def run(self) -> list[Problem]:
        self.check_structure()
        self.check_artifacts()
        self.check_artifact_counts()
        self.check_artifact_stores()
        self.check_pipeline_type()
        self.check_timeouts()
        self.check_triggers()
        self.check_variables()
        return self.problems

    # R1-R5 and the structural quotas
    def check_structure(self) -> None:
        stages = self.pipeline.get("stages")
        if isinstance(stages, (list, tuple)):
            if len(stages) < _MIN_STAGES:
                self.report(
                    "stages",
                    "too-few-stages",
                    f"the pipeline has {len(stages)} stage{'s' if len(stages) != 1 else ''}; it needs at least "
                    f"{_MIN_STAGES}: a first stage of Source actions and at least one stage after it",
                )
            elif len(stages) > _MAX_STAGES:
                self.report(
                    "stages",
                    "too-many-stages",
                    f"the pipeline has {len(stages)} stages; merge or remove stages to keep at most {_MAX_STAGES}",
                )
        if len(self.actions) > _MAX_ACTIONS:
            self.report(
                "stages",
                "too-many-total-actions",
                f"the pipeline has {len(self.actions)} actions; a pipeline holds at most {_MAX_ACTIONS} — "
                "split it into several pipelines",
            )
        first_stage_name: str | None = None
        seen_stages: dict[str, int] = {}
        for index, stage in self.stages:
            name = _text(stage.get("name"))
            if index == 0:
                first_stage_name = name
            if name is not None:
                if name in seen_stages:
                    self.report(
                        f"stages[{index}].name",
                        "duplicate-stage-name",
                        f"stage name {name!r} is already used by stages[{seen_stages[name]}]; "
                        "stage names must be unique — rename one of them",
                    )
                else:
                    seen_stages[name] = index
            actions = stage.get("actions")
            if isinstance(actions, (list, tuple)):
                if not actions and index == 0:
                    self.report(
                        f"stages[{index}].actions",
                        "first-stage-empty",
                        "the first stage has no actions; add at least one Source action to it",
                    )
                elif not actions:
                    self.report(
                        f"stages[{index}].actions",
                        "too-few-actions",
                        f"stage {name!r} has no actions; add an action or remove the stage",
                    )
                elif len(actions) > _MAX_ACTIONS_PER_STAGE:
                    self.report(
                        f"stages[{index}].actions",
                        "too-many-actions",
                        f"stage {name!r} has {len(actions)} actions; split it so each stage has at most "
                        f"{_MAX_ACTIONS_PER_STAGE}",
                    )
        seen_actions: dict[tuple[int, str], str] = {}
        for action in self.actions:
            if action.name is not None:
                key = (action.stage, action.name)
                if key in seen_actions:
                    self.report(
                        f"{action.path}.name",
                        "duplicate-action-name",
                        f"action name {action.name!r} is already used by {seen_actions[key]} in the same stage; "
                        "action names must be unique within a stage — rename one of them",
                    )
                else:
                    seen_actions[key] = action.path
            if action.category is None:
                continue
            category_path = f"{action.path}.actionTypeId.category"
            if action.stage == 0 and action.category != "Source":
                self.report(
                    category_path,
                    "non-source-in-first-stage",
                    f"the first stage may hold only Source actions, but {action.name!r} is {_with_article(action.category)} "
                    "action; move it to a later stage",
                )
            elif action.stage != 0 and action.category == "Source":
                self.report(
                    category_path,
                    "source-not-in-first-stage",
                    f"Source actions may appear only in the first stage; move {action.name!r} to stage "
                    f"{first_stage_name!r}",
                )

    # R7, R8
    def check_artifacts(self) -> None:
        producers: dict[str, list[_Action]] = {}
        # The artifacts an action may read are those produced strictly before it, a prefix of every artifact
        # name ordered by when it is first produced: found by bisection, not by scanning every producer.
        first_produced: dict[str, tuple[int, int]] = {}
        for key, name in sorted(
            ((action.stage, action.run_order), name) for action in self.actions for _, name in action.outputs
        ):
            first_produced.setdefault(name, key)
        in_order = list(first_produced)
        order_keys = list(first_produced.values())
        near_misses = _NearMisses(in_order)
        for action in self.actions:
            for index, name in action.outputs:
                earlier = producers.setdefault(name, [])
                if earlier:
                    self.report(
                        f"{action.path}.outputArtifacts[{index}].name",
                        "duplicate-output-artifact",
                        f"output artifact {name!r} is already produced by {earlier[0].describe()}; output "
                        "artifact names must be unique across the pipeline — rename this one",
                    )
                earlier.append(action)
        for action in self.actions:
            for index, name in action.inputs:
                path = f"{action.path}.inputArtifacts[{index}].name"
                candidates = producers.get(name)
                if candidates is None:
                    produced_before = bisect.bisect_left(order_keys, (action.stage, action.run_order))
                    available = in_order[:produced_before]
                    if len(available) <= _LISTED:
                        available.sort()
                    suggestion = near_misses.suggest(name, among_first=produced_before)
                    self.report(
                        path,
                        "artifact-not-produced",
                        f"no action outputs artifact {name!r}{suggestion}; name an output artifact of an action "
                        f"that runs earlier (available here: {_listing(available, of='artifacts')})",
                    )
                elif not any(candidate.runs_before(action) for candidate in candidates):
                    self.report(
                        path, "artifact-produced-later", _produced_later_message(name, candidates[0], action)
                    )

    # R9, R15
    def check_artifact_counts(self) -> None:
        for action in self.actions:
            if action.category is None or action.owner is None or action.provider is None:
                continue
            bounds = _ARTIFACT_BOUNDS.get((action.category, action.owner, action.provider))
            if bounds is not None:
                for member, noun, (low, high) in (
                    ("inputArtifacts", "input", bounds[0]),
                    ("outputArtifacts", "output", bounds[1]),
                ):
                    self.check_artifact_count(action, member, noun, low, high)
            if action.owner == "AWS" and action.provider == "CodeBuild":
                self.check_primary_source(action)

    def check_artifact_count(self, action: _Action, member: str, noun: str, low: int, high: int) -> None:
        artifacts = action.declaration.get(member)
        if artifacts is not None and not isinstance(artifacts, (list, tuple)):
            return  # a shape problem already
        count = len(artifacts or ())
        if low <= count <= high:
            return
        kind = f"{action.provider} {action.category} actions"
        if count > high:
            code, fix = f"too-many-{noun}-artifacts", f"remove {count - high}"
        else:
            code, fix = f"too-few-{noun}-artifacts", f"add {low - count}"
        self.report(
            f"{action.path}.{member}",
            code,
            f"{kind} take {_bounds(low, high, noun + ' artifact')}, but {action.name!r} has {count}; {fix}",
        )

    def check_primary_source(self, action: _Action) -> None:
        inputs = [name for _, name in action.inputs]
        if len(inputs) < 2:
            return
        configuration = action.declaration.get("configuration")
        primary = _mapping(configuration).get("PrimarySource")
        if not isinstance(primary, str):
            self.report(
                f"{action.path}.configuration",
                "primary-source-required",
                f"CodeBuild action {action.name!r} has {len(inputs)} input artifacts; set configuration "
                f"PrimarySource to the one holding the buildspec ({', '.join(inputs)})",
            )
        elif primary not in inputs:
            self.report(
                member_path(f"{action.path}.configuration", "PrimarySource"),
                "primary-source-unknown",
                f"PrimarySource {primary!r} is not an input artifact of {action.name!r}{_closest(primary, inputs)}; "
                f"use one of {', '.join(inputs)}",
            )

    # R10, R11
    def check_artifact_stores(self) -> None:
        single = self.pipeline.get("artifactStore") is not None
        stores = self.pipeline.get("artifactStores")
        if not single and stores is None:
            self.report(
                "artifactStore",
                "artifact-store-missing",
                "the pipeline has no artifact store; add artifactStore (an S3 bucket in the pipeline's region), "
                "or artifactStores with one bucket per region for cross-region actions",
            )
        elif single and stores is not None:
            self.report(
                "artifactStores",
                "artifact-store-conflict",
                "artifactStore and artifactStores are both set; keep artifactStores for cross-region actions, "
                "otherwise keep artifactStore",
            )
        regional = [action for action in self.actions if action.region is not None]
        action_regions = {action.region for action in regional}
        pipeline_region = self.region
        if pipeline_region is None and len(action_regions) == 1:
            # All actions that name a region agree: AWS allows (and real definitions do) naming the
            # pipeline's own region on every action, so take that as the pipeline region.
            (pipeline_region,) = action_regions
        if stores is None and single:
            if pipeline_region is not None:
                for action in regional:
                    if action.region != pipeline_region:
                        self.report(
                            f"{action.path}.region",
                            "cross-region-requires-artifact-stores",
                            f"{action.name!r} runs in {action.region!r}, outside the pipeline's region "
                            f"{pipeline_region!r}; replace artifactStore with artifactStores holding a bucket for "
                            f"{pipeline_region!r} and {action.region!r}, or remove the action's region",
                        )
            elif len(action_regions) > 1:
                self.report(
                    "artifactStore",
                    "cross-region-requires-artifact-stores",
                    f"actions run in several regions ({', '.join(sorted(r for r in action_regions if r))}), so "
                    "some run outside the pipeline's region; replace artifactStore with artifactStores holding "
                    "a bucket for the pipeline's region and each action region",
                )
        if isinstance(stores, Mapping):
            if self.region is not None and self.region not in stores:
                self.report(
                    "artifactStores",
                    "artifact-store-region-missing",
                    f"artifactStores has no bucket for the pipeline's region {self.region!r}; add one",
                )
            for action in regional:
                if action.region not in stores and action.region != self.region:
                    self.report(
                        f"{action.path}.region",
                        "artifact-store-region-missing",
                        f"{action.name!r} runs in {action.region!r}, which has no bucket in artifactStores; add an "
                        f"artifactStores entry for {action.region!r}",
                    )
        if pipeline_region is None:
            return
        for action in regional:
            if action.region == pipeline_region:
                continue
            if action.category == "Source" or action.owner in ("ThirdParty", "Custom"):
                kind = "Source" if action.category == "Source" else action.owner
                self.report(
                    f"{action.path}.region",
                    "cross-region-not-allowed",
                    f"{kind} actions cannot run outside the pipeline's region {pipeline_region!r}; remove the "
                    f"region of {action.name!r} or set it to {pipeline_region!r}",
                )

    # R12, P3
    def check_pipeline_type(self) -> None:
        declared = _text(self.pipeline.get("pipelineType"))
        mode = self.pipeline.get("executionMode")
        if mode == "PARALLEL":
            self.check_no_rollback()
        if (declared or self.default_pipeline_type) != "V1":
            return
        why = (
            "pipelineType is V1"
            if declared
            else f"pipelineType is not set, so it is taken as {self.default_pipeline_type}"
        )
        fix = 'set pipelineType to "V2"'
        if mode in ("QUEUED", "PARALLEL"):
            self.report(
                "executionMode",
                "requires-v2",
                f"executionMode {mode} needs a V2 pipeline but {why}; {fix} or use SUPERSEDED",
            )
        for member, feature in (("variables", "pipeline variables"), ("triggers", "triggers")):
            if _items(self.pipeline.get(member)):
                self.report(
                    member, "requires-v2", f"{feature} need a V2 pipeline but {why}; {fix} or remove them"
                )
        for index, stage in self.stages:
            for block in _STAGE_CONDITION_BLOCKS:
                if stage.get(block) is not None:
                    self.report(
                        f"stages[{index}].{block}",
                        "requires-v2",
                        f"stage conditions ({block}) need a V2 pipeline but {why}; {fix} or remove {block}",
                    )

    def check_no_rollback(self) -> None:
        message = (
            "PARALLEL execution mode does not support stage rollback; choose another result "
            "(or remove the condition), or use executionMode SUPERSEDED or QUEUED"
        )
        for index, stage in self.stages:
            for block in ("onSuccess", "onFailure"):
                block_path = f"stages[{index}].{block}"
                conditions = _mapping(stage.get(block))
                if conditions.get("result") == "ROLLBACK":
                    self.report(f"{block_path}.result", "rollback-in-parallel-mode", message)
                for position, condition in enumerate(_items(conditions.get("conditions"))):
                    if _mapping(condition).get("result") == "ROLLBACK":
                        self.report(
                            f"{block_path}.conditions[{position}].result",
                            "rollback-in-parallel-mode",
                            message,
                        )

    # R14
    def check_timeouts(self) -> None:
        for action in self.actions:
            if action.declaration.get("timeoutInMinutes") is None:
                continue
            if (action.category, action.owner, action.provider) != ("Approval", "AWS", "Manual"):
                self.report(
                    f"{action.path}.timeoutInMinutes",
                    "timeout-not-allowed",
                    f"timeoutInMinutes is accepted only on Manual approval actions; remove it from "
                    f"{action.name!r} (its provider's own timeout applies)",
                )

    # R13
    def check_triggers(self) -> None:
        by_name: dict[str, _Action] = {}
        for action in self.actions:  # in document order, so first-stage actions win
            if action.name is not None:
                by_name.setdefault(action.name, action)
        sources = [name for name, action in by_name.items() if action.category == "Source"]
        source_names = _NearMisses(sources)
        claimed: dict[str, int] = {}
        for index, trigger in enumerate(_items(self.pipeline.get("triggers"))):
            name = _text(_mapping(_mapping(trigger).get("gitConfiguration")).get("sourceActionName"))
            if name is None:
                continue
            path = f"triggers[{index}].gitConfiguration.sourceActionName"
            target = by_name.get(name)
            if target is None or target.category not in ("Source", None):
                found = (
                    f"{name!r} is {_with_article(target.category or '')} action"
                    if target
                    else f"no action is named {name!r}"
                )
                self.report(
                    path,
                    "trigger-source-unknown",
                    f"{found}{source_names.suggest(name)}; name a CodeStarSourceConnection source action "
                    f"(source actions: {_listing(sources, of='source actions')})",
                )
            elif target.category == "Source" and target.provider not in ("CodeStarSourceConnection", None):
                self.report(
                    path,
                    "trigger-source-not-connection",
                    f"triggers apply only to CodeStarSourceConnection source actions, but {name!r} uses "
                    f"{target.provider}; switch the action to a connection or remove the trigger",
                )
            if name in claimed:
                self.report(
                    path,
                    "duplicate-trigger",
                    f"triggers[{claimed[name]}] already configures source action {name!r}; merge the filters "
                    "into that trigger (one trigger per source action)",
                )
            else:
                claimed[name] = index

    # Variables and namespaces
    def check_variables(self) -> None:
        declared: dict[str, int] = {}
        for index, variable in enumerate(_items(self.pipeline.get("variables"))):
            name = _text(_mapping(variable).get("name"))
            if name is None:
                continue
            if name in declared:
                self.report(
                    f"variables[{index}].name",
                    "duplicate-variable",
                    f"pipeline variable {name!r} is already declared by variables[{declared[name]}]; remove or "
                    "rename one of them",
                )
            else:
                declared[name] = index
        namespaces: dict[str, list[_Action]] = {}
        for action in self.actions:
            if action.namespace is None:
                continue
            owners = namespaces.setdefault(action.namespace, [])
            if owners:
                self.report(
                    f"{action.path}.namespace",
                    "duplicate-namespace",
                    f"namespace {action.namespace!r} is already declared by {owners[0].describe()}; namespaces "
                    "must be unique across the pipeline — rename this one",
                )
            owners.append(action)
        self.variable_names = _NearMisses(declared)
        self.namespace_names = _NearMisses(namespaces)
        for action in self.actions:
            self.check_references(
                f"{action.path}.configuration",
                action.declaration.get("configuration"),
                declared,
                namespaces,
                functools.partial(_runs_before, action),
                f"{action.name!r}",
            )
        for index, stage in self.stages:
            for block in _STAGE_CONDITION_BLOCKS:
                # Conditions checked before entry see earlier stages only; the others run after the stage's
                # actions, so the stage's own namespaces are visible too.
                visible_up_to = index if block == "beforeEntry" else index + 1
                conditions = _items(_mapping(stage.get(block)).get("conditions"))
                for position, condition in enumerate(conditions):
                    for rule_index, rule in enumerate(_items(_mapping(condition).get("rules"))):
                        rule_path = f"stages[{index}].{block}.conditions[{position}].rules[{rule_index}]"
                        self.check_references(
                            f"{rule_path}.configuration",
                            _mapping(rule).get("configuration"),
                            declared,
                            namespaces,
                            functools.partial(_in_stage_before, visible_up_to),
                            f"the {block} condition of stage {_text(stage.get('name'))!r}",
                        )

    def check_references(
        self,
        configuration_path: str,
        configuration: object,
        declared: Mapping[str, int],
        namespaces: Mapping[str, list[_Action]],
        visible: Callable[[_Action], bool],
        consumer: str,
    ) -> None:
        for key, value in _mapping(configuration).items():
            if not isinstance(value, str) or "#{" not in value:
                continue
            path = member_path(configuration_path, key)
            for namespace, variable in dict.fromkeys(_REFERENCE.findall(value)):
                reference = f"#{{{namespace}.{variable}}}"
                if namespace == _PIPELINE_VARIABLES_NAMESPACE:
                    if variable not in declared:
                        self.report(
                            path,
                            "unknown-variable",
                            f"{reference} refers to pipeline variable {variable!r}, which is not declared"
                            f"{self.variable_names.suggest(variable)}; add it to the pipeline's variables or fix the name",
                        )
                    continue
                if namespace in _BUILT_IN_NAMESPACES:
                    continue
                owners = namespaces.get(namespace)
                if owners is None:
                    self.report(
                        path,
                        "unknown-namespace",
                        f"{reference} refers to namespace {namespace!r}, which no action declares"
                        f"{self.namespace_names.suggest(namespace)}; set namespace {namespace!r} on the action whose "
                        "variables you need, or fix the reference",
                    )
                elif not any(visible(owner) for owner in owners):
                    self.report(
                        path,
                        "namespace-declared-later",
                        f"{reference} refers to namespace {namespace!r} of {owners[0].describe()}, which does not "
                        f"run before {consumer}; reference only namespaces of actions in earlier stages or "
                        "lower runOrder groups",
                    )


def _runs_before(consumer: _Action, owner: _Action) -> bool:
    return owner.runs_before(consumer)


def _in_stage_before(limit: int, owner: _Action) -> bool:
    return owner.stage < limit


def _produced_later_message(name: str, producer: _Action, consumer: _Action) -> str:
    intro = f"input artifact {name!r} is produced by {producer.describe()}"
    if producer is consumer:
        return f"{intro}, the same action; an action cannot consume its own output — use another artifact"
    if producer.stage == consumer.stage and producer.run_order == consumer.run_order:
        return (
            f"{intro}, which runs in parallel with {consumer.name!r} (same runOrder); give {consumer.name!r} "
            f"a runOrder greater than {producer.run_order}"
        )
    if producer.stage == consumer.stage:
        return (
            f"{intro}, which runs later; give {consumer.name!r} a runOrder greater than {producer.run_order}"
        )
    return f"{intro}, a later stage; move {consumer.name!r} to a stage after {producer.stage_name!r}"


# --- ordering ----------------------------------------------------------------------------------------------


def _in_document_order(document: object, problems: list[Problem]) -> list[Problem]:
    """Sort problems by where their path points in `document`; absent members sort after present ones."""
    keys: dict[str, tuple[tuple[int, str], ...]] = {}
    for problem in problems:
        if problem.path not in keys:
            keys[problem.path] = _document_position(document, problem.path)
    return sorted(problems, key=lambda problem: keys[problem.path])


def _document_position(document: object, path: str) -> tuple[tuple[int, str], ...]:
    node = document
    position: list[tuple[int, str]] = []
    for segment in _PATH_SEGMENT.finditer(path):
        name, index, quoted = segment.groups()
        if index is not None:
            number = int(index)
            position.append((number, ""))
            node = node[number] if isinstance(node, (list, tuple)) and number < len(node) else None
            continue
        key = name if name is not None else json.loads(quoted)
        if isinstance(node, Mapping):
            present = [str(existing) for existing in node]
            rank = present.index(key) if key in present else len(present)
            position.append((rank, key))
            node = next((value for existing, value in node.items() if str(existing) == key), None)
        else:
            position.append((0, key))
            node = None
    return tuple(position)
