"""The typed declaration model: lossless wire round trips, tolerant reading, look-ups and immutable edits.

The corpus in tests/data/corpus holds real published pipeline definitions (attribution in SOURCES.md there).
"""

from __future__ import annotations

import copy
import json
import pickle
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import botocore.parsers
import botocore.session
import pytest

from pipepilot.errors import (
    ActionNotFoundError,
    InvalidStructureError,
    NotFoundError,
    PipelineValidationError,
    PipepilotError,
    StageNotFoundError,
)
from pipepilot.model._wire import ABSENT_STR, ABSENT_TUPLE, EMPTY_EXTRA
from pipepilot.model.declaration import (
    ActionCategory,
    ActionDeclaration,
    ActionOwner,
    ActionTypeId,
    ArtifactStore,
    ConditionResult,
    EncryptionKeyType,
    EnvironmentVariable,
    ExecutionMode,
    GitPullRequestEventType,
    InputArtifact,
    OutputArtifact,
    PipelineDeclaration,
    PipelineDocument,
    PipelineMetadata,
    PipelineTriggerProviderType,
    PipelineType,
    StageDeclaration,
)

TESTS = next(folder for folder in Path(__file__).resolve().parents if folder.name == "tests")
CORPUS = TESTS / "data" / "corpus"
CORPUS_FILES = sorted(CORPUS.glob("*.json"))


def corpus(name_prefix: str) -> dict[str, Any]:
    """The corpus file whose name starts with *name_prefix*, parsed."""
    (path,) = [path for path in CORPUS_FILES if path.name.startswith(name_prefix)]
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def declaration(name_prefix: str) -> PipelineDeclaration:
    return PipelineDeclaration.from_api(corpus(name_prefix)["pipeline"])


def make_action(name: str, *, provider: str = "CodeBuild", run_order: int | None = None) -> ActionDeclaration:
    return ActionDeclaration(
        name=name,
        action_type_id=ActionTypeId(
            category=ActionCategory.BUILD, owner=ActionOwner.AWS, provider=provider, version="1"
        ),
        run_order=run_order,
        configuration={"ProjectName": name},
        input_artifacts=(InputArtifact(name="Src"),),
    )


def make_stage(name: str, *actions: str) -> StageDeclaration:
    return StageDeclaration(name=name, actions=tuple(make_action(action) for action in actions))


@pytest.fixture
def pipeline() -> PipelineDeclaration:
    """A small pipeline: Source(Checkout), Build(Compile, Test), Deploy(Ship), with unknown members."""
    return PipelineDeclaration.from_api(
        {
            "name": "demo",
            "roleArn": "arn:aws:iam::123456789012:role/pipeline",
            "artifactStore": {"type": "S3", "location": "bucket"},
            "stages": [
                {
                    "name": "Source",
                    "actions": [
                        {
                            "name": "Checkout",
                            "actionTypeId": {
                                "category": "Source",
                                "owner": "AWS",
                                "provider": "S3",
                                "version": "1",
                            },
                            "outputArtifacts": [{"name": "Src"}],
                            "configuration": {"S3Bucket": "b", "S3ObjectKey": "k"},
                        }
                    ],
                },
                {
                    "name": "Build",
                    "actions": [
                        {
                            "name": "Compile",
                            "actionTypeId": {
                                "category": "Build",
                                "owner": "AWS",
                                "provider": "CodeBuild",
                                "version": "1",
                            },
                            "inputArtifacts": [{"name": "Src"}],
                            "futureActionField": {"nested": [1, 2]},
                        },
                        {
                            "name": "Test",
                            "actionTypeId": {
                                "category": "Test",
                                "owner": "AWS",
                                "provider": "CodeBuild",
                                "version": "1",
                            },
                            "runOrder": 2,
                            "inputArtifacts": [{"name": "Src"}],
                        },
                    ],
                    "futureStageField": "kept",
                },
                {
                    "name": "Deploy",
                    "actions": [
                        {
                            "name": "Ship",
                            "actionTypeId": {
                                "category": "Deploy",
                                "owner": "AWS",
                                "provider": "S3",
                                "version": "1",
                            },
                            "inputArtifacts": [{"name": "Src"}],
                        }
                    ],
                },
            ],
            "futurePipelineField": {"mode": "x"},
        }
    )


# ------------------------------------------------------------------------------------------ corpus round trip


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: path.name[:2])
def test_corpus_declarations_round_trip_losslessly(path: Path) -> None:
    """Every real definition in the corpus comes back from to_api() exactly as read, key order aside."""
    data = json.loads(path.read_text())
    assert PipelineDeclaration.from_api(data["pipeline"]).to_api() == data["pipeline"]
    assert PipelineDocument.from_api(data).to_api() == data
    assert PipelineDocument.from_json(path.read_text()).to_api() == data
    assert json.loads(PipelineDocument.from_json(path.read_bytes()).to_json()) == data


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: path.name[:2])
def test_corpus_models_rebuild_from_their_own_output(path: Path) -> None:
    """Reading what to_api() wrote gives an equal model: nothing is lost or changed on the way back."""
    decl = PipelineDeclaration.from_api(json.loads(path.read_text())["pipeline"])
    assert PipelineDeclaration.from_api(decl.to_api()) == decl


def test_unknown_member_inside_action_type_id_is_kept() -> None:
    """The old "__type" key inside actionTypeId (corpus file 02) is kept in extra and written back."""
    decl = declaration("02-")
    type_id = decl.action("Source", "Source").action_type_id
    assert type_id.extra == {"__type": "ActionTypeId"}
    assert type_id.category is ActionCategory.SOURCE
    assert type_id.to_api()["__type"] == "ActionTypeId"  # type: ignore[typeddict-item]


def test_absent_and_empty_members_stay_distinct() -> None:
    """Empty lists and maps read as empty values; absent members read as None and are not written."""
    listed = declaration("01-").action("Source", "Source")
    assert listed.input_artifacts == ()
    assert listed.run_order == 1
    bare = declaration("33-").action("Stage-2", "Action-1")
    assert bare.input_artifacts is None
    assert bare.output_artifacts is None
    assert bare.configuration is None
    assert bare.run_order is None
    assert set(bare.to_api()) == {"name", "actionTypeId"}
    compute = declaration("23-").action("CodeCheck", "Lint")
    assert compute.configuration == {}
    assert compute.commands == ("export APPLICATION=soil-sensor-service", "./.pipeline/scripts/lint.sh")
    assert compute.to_api()["configuration"] == {}


def test_missing_required_members_read_as_empty_and_stay_absent() -> None:
    """An invalid definition without roleArn or actionTypeId still loads, reads empty, and round-trips."""
    data = corpus("20-")["pipeline"]
    decl = PipelineDeclaration.from_api(data)
    assert decl.role_arn == ""
    assert decl.role_arn is ABSENT_STR
    action = decl.action("Source", "ApplicationSource")
    assert action.action_type_id.provider == ""
    assert "actionTypeId" not in action.to_api()
    assert "roleArn" not in decl.to_api()
    assert decl.triggers is not None
    assert decl.triggers[0].extra == {"provider": "Connection"}
    assert decl.to_api() == data


def test_required_list_missing_reads_as_empty_tuple() -> None:
    """A stage without actions has no actions to iterate, and its to_api() still has no "actions" key."""
    stage = StageDeclaration.from_api({"name": "Empty"})
    assert stage.actions == ()
    assert stage.actions is ABSENT_TUPLE
    assert stage.action_names == ()
    assert dict(stage.to_api()) == {"name": "Empty"}
    assert stage.with_action(make_action("A")).to_api()["actions"][0]["name"] == "A"


# --------------------------------------------------------------------------------- tolerant enumerations


def test_known_enum_values_become_members() -> None:
    """Known strings map to enum members, which compare equal to their wire strings."""
    decl = declaration("04-")
    assert decl.pipeline_type is PipelineType.V2
    assert decl.execution_mode is ExecutionMode.QUEUED
    assert decl.triggers is not None
    assert decl.triggers[0].provider_type is PipelineTriggerProviderType.CODE_STAR_SOURCE_CONNECTION
    category: str = ActionCategory.BUILD
    assert category == "Build"
    assert str(ActionCategory.BUILD) == "Build"
    assert f"{ExecutionMode.QUEUED}" == "QUEUED"


def test_unknown_enum_values_stay_plain_strings() -> None:
    """Values AWS adds later are kept as str (not rejected, not mapped) and written back unchanged."""
    data = {
        "name": "p",
        "roleArn": "r",
        "stages": [
            {
                "name": "S",
                "actions": [
                    {
                        "name": "A",
                        "actionTypeId": {
                            "category": "Quantum",
                            "owner": "Partner",
                            "provider": "X",
                            "version": "1",
                        },
                    }
                ],
                "onFailure": {"result": "ESCALATE"},
            }
        ],
        "executionMode": "EVENTUAL",
        "pipelineType": "V3",
    }
    decl = PipelineDeclaration.from_api(data)
    type_id = decl.action("S", "A").action_type_id
    assert type(type_id.category) is str
    assert type_id.category == "Quantum"
    assert type(type_id.owner) is str
    assert type(decl.execution_mode) is str
    assert decl.pipeline_type_effective == "V3"
    on_failure = decl.stage("S").on_failure
    assert on_failure is not None
    assert on_failure.result == "ESCALATE"
    assert not isinstance(on_failure.result, ConditionResult)
    assert decl.to_api() == data


def test_enum_lists_tolerate_unknown_values() -> None:
    """Pull-request events keep known members and unknown strings side by side."""
    trigger = {
        "providerType": "CodeStarSourceConnection",
        "gitConfiguration": {"sourceActionName": "Src", "pullRequest": [{"events": ["OPEN", "REOPENED"]}]},
    }
    decl = PipelineDeclaration.from_api({"name": "p", "roleArn": "r", "stages": [], "triggers": [trigger]})
    assert decl.triggers is not None
    pull_requests = decl.triggers[0].git_configuration.pull_request
    assert pull_requests is not None
    assert pull_requests[0].events == (GitPullRequestEventType.OPEN, "REOPENED")
    assert decl.to_api()["triggers"] == [trigger]


# ------------------------------------------------------------------------------ values of unexpected type


@pytest.mark.parametrize(
    ("member", "value", "attribute"),
    [
        ("runOrder", "2", "run_order"),
        ("runOrder", True, "run_order"),
        ("region", None, "region"),
        ("configuration", {"PollForSourceChanges": False}, "configuration"),
        ("inputArtifacts", "Src", "input_artifacts"),
        ("outputArtifacts", [{"name": "Out"}, "stray"], "output_artifacts"),
        ("commands", ["ok", 3], "commands"),
        ("timeoutInMinutes", 5.5, "timeout_in_minutes"),
        ("environmentVariables", {"NAME": "v"}, "environment_variables"),
    ],
)
def test_values_of_unexpected_type_are_kept_raw(member: str, value: Any, attribute: str) -> None:
    """A mistyped value is not coerced: the attribute reads absent, the raw value rides in extra."""
    data = {
        "name": "A",
        "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
        member: value,
    }
    action = ActionDeclaration.from_api(data)
    assert getattr(action, attribute) is None
    assert action.extra == {member: value}
    assert action.to_api() == data


def test_mistyped_required_members_are_kept_raw() -> None:
    """A required member of the wrong type reads empty and is written back as it was."""
    data = {"name": 42, "roleArn": "r", "stages": "not a list", "version": "7"}
    decl = PipelineDeclaration.from_api(data)
    assert decl.name == ""
    assert decl.stages == ()
    assert decl.version is None
    assert decl.extra == {"name": 42, "stages": "not a list", "version": "7"}
    assert decl.to_api() == data


def test_edits_win_over_raw_values_kept_in_extra() -> None:
    """Setting an attribute that was read from a mistyped value writes the new value, not the stale one."""
    action = ActionDeclaration.from_api(
        {
            "name": "A",
            "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
            "runOrder": "2",
        }
    )
    assert action.evolve(run_order=3).to_api()["runOrder"] == 3


def test_model_does_not_alias_caller_dicts() -> None:
    """Changing the input after from_api, or the output of to_api, never changes the model."""
    data = corpus("05-")["pipeline"]
    data["stages"][0]["actions"][0]["futureField"] = {"deep": ["x"]}
    decl = PipelineDeclaration.from_api(data)
    before = decl.to_api()
    data["stages"][0]["actions"][0]["configuration"]["Branch"] = "changed"
    data["stages"][0]["actions"][0]["futureField"]["deep"].append("y")
    written = decl.to_api()
    written["stages"][0]["actions"][0]["configuration"]["Branch"] = "changed too"
    written["stages"][0]["actions"][0]["futureField"]["deep"].append("z")  # type: ignore[typeddict-item]
    assert decl.to_api() == before


def test_from_api_of_a_non_mapping_raises_a_typed_error() -> None:
    """Handing a list (or anything not a JSON object) to from_api names the class and what it got."""
    with pytest.raises(InvalidStructureError, match=r"PipelineDeclaration\.from_api\(\).*got list"):
        PipelineDeclaration.from_api([])  # type: ignore[arg-type]
    with pytest.raises(InvalidStructureError, match="ActionDeclaration"):
        ActionDeclaration.from_api("Compile")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ look-ups


def test_lookups_by_name(pipeline: PipelineDeclaration) -> None:
    """Stages and actions are found by name, from the pipeline or from the stage."""
    assert pipeline.stage_names == ("Source", "Build", "Deploy")
    build = pipeline.stage("Build")
    assert build.action_names == ("Compile", "Test")
    assert build.action("Test").run_order == 2
    assert pipeline.action("Build", "Compile") is build.action("Compile")
    assert pipeline.has_stage("Deploy")
    assert not pipeline.has_stage("deploy")
    assert build.has_action("Test")


def test_stage_miss_raises_a_typed_error_listing_the_stages(pipeline: PipelineDeclaration) -> None:
    """A missing stage raises StageNotFoundError carrying the name asked for and the names that exist."""
    with pytest.raises(StageNotFoundError) as caught:
        pipeline.stage("Biuld")
    error = caught.value
    assert isinstance(error, NotFoundError)
    assert isinstance(error, PipepilotError)
    assert error.name == "Biuld"
    assert error.available == ("Source", "Build", "Deploy")
    assert "'Biuld'" in str(error)
    assert "'Source', 'Build', 'Deploy'" in str(error)


def test_action_miss_raises_a_typed_error_listing_the_actions(pipeline: PipelineDeclaration) -> None:
    """A missing action raises ActionNotFoundError naming the stage and listing its actions."""
    with pytest.raises(ActionNotFoundError) as caught:
        pipeline.action("Build", "Package")
    assert caught.value.name == "Package"
    assert caught.value.available == ("Compile", "Test")
    assert "stage 'Build'" in str(caught.value)
    with pytest.raises(StageNotFoundError):
        pipeline.action("Nope", "Compile")


def test_actions_iterates_stage_action_pairs_in_order(pipeline: PipelineDeclaration) -> None:
    """actions() yields (stage, action) pairs in declaration order."""
    assert [(stage.name, action.name) for stage, action in pipeline.actions()] == [
        ("Source", "Checkout"),
        ("Build", "Compile"),
        ("Build", "Test"),
        ("Deploy", "Ship"),
    ]


def test_effective_defaults_apply_aws_defaults_only_when_absent() -> None:
    """Effective values fill in AWS's defaults for absent members and leave given ones alone."""
    bare = declaration("33-")
    assert bare.pipeline_type is None
    assert bare.pipeline_type_effective is PipelineType.V2  # AWS creates V2 when no type is given
    assert bare.execution_mode_effective is ExecutionMode.SUPERSEDED
    assert bare.action("Stage-2", "Action-1").run_order_effective == 1
    explicit = declaration("04-")
    assert explicit.pipeline_type_effective is PipelineType.V2
    assert explicit.execution_mode_effective is ExecutionMode.QUEUED


def test_reading_shortcuts(pipeline: PipelineDeclaration) -> None:
    """Artifact names, category/owner/provider shortcuts and run-order groups read naturally."""
    checkout = pipeline.action("Source", "Checkout")
    assert checkout.output_artifact_names == ("Src",)
    assert checkout.input_artifact_names == ()
    assert checkout.category is ActionCategory.SOURCE
    assert checkout.owner is ActionOwner.AWS
    assert checkout.provider == "S3"
    groups = pipeline.stage("Build").action_groups()
    assert [(order, [action.name for action in group]) for order, group in groups] == [
        (1, ["Compile"]),
        (2, ["Test"]),
    ]


def test_parallel_actions_share_a_group() -> None:
    """Actions with the same effective run order form one group (corpus file 23: Lint and Test)."""
    groups = declaration("23-").stage("CodeCheck").action_groups()
    assert [(order, [action.name for action in group]) for order, group in groups] == [(1, ["Lint", "Test"])]


# ------------------------------------------------------------------------------------------------- editing


def test_with_stage_appends_or_inserts_and_leaves_the_original(pipeline: PipelineDeclaration) -> None:
    """with_stage adds at the end, or before/after a named stage; the original is untouched."""
    assert pipeline.with_stage(make_stage("Audit", "Scan")).stage_names == (
        "Source",
        "Build",
        "Deploy",
        "Audit",
    )
    assert pipeline.with_stage(make_stage("Audit", "Scan"), before="Deploy").stage_names == (
        "Source",
        "Build",
        "Audit",
        "Deploy",
    )
    assert pipeline.with_stage(make_stage("Audit", "Scan"), after="Source").stage_names == (
        "Source",
        "Audit",
        "Build",
        "Deploy",
    )
    assert pipeline.stage_names == ("Source", "Build", "Deploy")


def test_with_stage_rejects_bad_requests(pipeline: PipelineDeclaration) -> None:
    """Unknown anchors, both anchors, and duplicate names are typed errors."""
    with pytest.raises(StageNotFoundError) as caught:
        pipeline.with_stage(make_stage("Audit", "Scan"), before="Nope")
    assert caught.value.available == ("Source", "Build", "Deploy")
    with pytest.raises(TypeError, match="not both"):
        pipeline.with_stage(make_stage("Audit", "Scan"), before="Build", after="Build")
    with pytest.raises(InvalidStructureError, match="already has a stage named 'Build'"):
        pipeline.with_stage(make_stage("Build", "Other"))


def test_edits_refuse_what_is_not_a_model(pipeline: PipelineDeclaration) -> None:
    """A wire dict, or a map_* callback that returns nothing, is a clear TypeError up front, not an
    AttributeError from deep inside (and the declaration is unchanged: it is immutable)."""
    wire = make_stage("Audit", "Scan").to_api()
    with pytest.raises(
        TypeError, match=r"must be a StageDeclaration .*StageDeclaration\.from_api\(\).*got dict"
    ):
        pipeline.with_stage(wire)  # type: ignore[arg-type]
    with pytest.raises(
        TypeError, match=r"replacement of stage 'Build' must be a StageDeclaration .*got NoneType"
    ):
        pipeline.map_stage("Build", lambda stage: None)  # type: ignore[arg-type,return-value]
    action = pipeline.stage("Build").actions[0]
    with pytest.raises(TypeError, match="must be an ActionDeclaration"):
        pipeline.with_action("Build", action.to_api())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=f"replacement of action {action.name!r}"):
        pipeline.map_action("Build", action.name, lambda found: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError):
        pipeline.replace_stage("Build", "Build")  # type: ignore[arg-type]
    with pytest.raises(StageNotFoundError):
        pipeline.replace_stage("Nope", None)  # type: ignore[arg-type]


def test_replace_without_and_map_stage(pipeline: PipelineDeclaration) -> None:
    """Stages can be replaced in place, removed, or transformed by a function."""
    replaced = pipeline.replace_stage("Build", make_stage("Compile", "Make"))
    assert replaced.stage_names == ("Source", "Compile", "Deploy")
    assert pipeline.without_stage("Deploy").stage_names == ("Source", "Build")
    renamed = pipeline.map_stage("Deploy", lambda stage: stage.evolve(name="Release"))
    assert renamed.stage_names == ("Source", "Build", "Release")
    assert renamed.stage("Release").action_names == ("Ship",)
    with pytest.raises(InvalidStructureError):
        pipeline.map_stage("Deploy", lambda stage: stage.evolve(name="Build"))
    with pytest.raises(StageNotFoundError):
        pipeline.without_stage("Nope")
    with pytest.raises(StageNotFoundError):
        pipeline.replace_stage("Nope", make_stage("X", "Y"))


def test_action_edits_on_the_stage(pipeline: PipelineDeclaration) -> None:
    """Stage-level action edits add, insert, replace, remove and transform actions."""
    build = pipeline.stage("Build")
    assert build.with_action(make_action("Lint"), before="Compile").action_names == (
        "Lint",
        "Compile",
        "Test",
    )
    assert build.with_action(make_action("Lint"), after="Compile").action_names == ("Compile", "Lint", "Test")
    assert build.with_action(make_action("Lint")).action_names == ("Compile", "Test", "Lint")
    assert build.replace_action("Test", make_action("Verify")).action_names == ("Compile", "Verify")
    assert build.without_action("Compile").action_names == ("Test",)
    slower = build.map_action("Test", lambda action: action.evolve(timeout_in_minutes=60))
    assert slower.action("Test").timeout_in_minutes == 60
    with pytest.raises(ActionNotFoundError) as caught:
        build.with_action(make_action("Lint"), after="Nope")
    assert caught.value.available == ("Compile", "Test")
    with pytest.raises(InvalidStructureError, match="already has an action named 'Test'"):
        build.with_action(make_action("Test"))
    with pytest.raises(InvalidStructureError):
        build.replace_action("Compile", make_action("Test"))
    with pytest.raises(ActionNotFoundError):
        build.without_action("Nope")


def test_action_edits_through_the_pipeline(pipeline: PipelineDeclaration) -> None:
    """Pipeline-level action edits reach into the named stage and leave the rest alone."""
    added = pipeline.with_action("Deploy", make_action("Smoke"), after="Ship")
    assert added.stage("Deploy").action_names == ("Ship", "Smoke")
    assert pipeline.replace_action("Build", "Test", make_action("Verify")).stage("Build").action_names == (
        "Compile",
        "Verify",
    )
    assert pipeline.without_action("Build", "Test").stage("Build").action_names == ("Compile",)
    changed = pipeline.map_action(
        "Build", "Compile", lambda action: action.with_configuration(ProjectName="p2")
    )
    assert changed.action("Build", "Compile").configuration == {"ProjectName": "p2"}
    assert changed.stage("Source") is pipeline.stage("Source")
    with pytest.raises(StageNotFoundError):
        pipeline.with_action("Nope", make_action("X"))
    with pytest.raises(ActionNotFoundError):
        pipeline.map_action("Build", "Nope", lambda action: action)


def test_configuration_helpers_return_new_actions() -> None:
    """with_configuration adds or replaces keys, without_configuration drops them; the original stays."""
    action = make_action("Build")
    updated = action.with_configuration(EnvironmentVariables="[]", ProjectName="other")
    assert updated.configuration == {"ProjectName": "other", "EnvironmentVariables": "[]"}
    assert updated.without_configuration("EnvironmentVariables", "Missing").configuration == {
        "ProjectName": "other"
    }
    assert action.configuration == {"ProjectName": "Build"}
    bare = make_action("Bare").evolve(configuration=None)
    assert bare.without_configuration("X") is bare
    assert bare.with_configuration(A="1").configuration == {"A": "1"}


def test_edits_keep_unknown_members_at_every_level(pipeline: PipelineDeclaration) -> None:
    """Unknown members on the pipeline, an edited stage and an untouched action survive edits."""
    edited = pipeline.map_action("Build", "Test", lambda action: action.evolve(run_order=3)).evolve(version=9)
    wire = edited.to_api()
    assert wire["futurePipelineField"] == {"mode": "x"}  # type: ignore[typeddict-item]
    build = wire["stages"][1]
    assert build["futureStageField"] == "kept"  # type: ignore[typeddict-item]
    assert build["actions"][0]["futureActionField"] == {"nested": [1, 2]}  # type: ignore[typeddict-item]
    assert build["actions"][1]["runOrder"] == 3
    assert wire["version"] == 9


def test_models_are_frozen(pipeline: PipelineDeclaration) -> None:
    """Attributes cannot be assigned; edits go through evolve and the with_/without_ methods."""
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        pipeline.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        EMPTY_EXTRA["x"] = 1  # type: ignore[index]


def test_models_hash_and_compare_by_value(pipeline: PipelineDeclaration) -> None:
    """Equal declarations are equal and hash alike, so they work as dict keys and in sets."""
    again = PipelineDeclaration.from_api(pipeline.to_api())
    assert again == pipeline
    assert hash(again) == hash(pipeline)
    assert (
        len(
            {
                pipeline.action("Build", "Compile").action_type_id,
                again.action("Build", "Compile").action_type_id,
            }
        )
        == 1
    )
    assert pipeline.evolve(version=2) != pipeline


def test_models_survive_pickle_and_copy() -> None:
    """Pickled and deep-copied declarations (even invalid ones) are equal and write the same wire dict."""
    for prefix in ("02-", "20-", "23-"):
        data = corpus(prefix)["pipeline"]
        decl = PipelineDeclaration.from_api(data)
        for clone in (pickle.loads(pickle.dumps(decl)), copy.deepcopy(decl), copy.copy(decl)):
            assert clone == decl
            assert clone.to_api() == data


# --------------------------------------------------------------------------------------------------- secrets


def test_repr_never_shows_configuration_values() -> None:
    """An OAuth token in configuration (or env var values, or unknown members) never reaches repr()."""
    data = corpus("05-")["pipeline"]
    source = data["stages"][0]["actions"][0]
    source["configuration"]["OAuthToken"] = "ghp_SECRETSECRETSECRET"
    source["futureSecret"] = "hunter2-hunter2"
    decl = PipelineDeclaration.from_api(data)
    action = decl.action("Source", "Source")
    assert "OAuthToken" in repr(action)
    for text in (repr(action), repr(decl), str(decl), decl.summary()):
        assert "ghp_SECRETSECRETSECRET" not in text
        assert "hunter2" not in text
    assert action.configuration is not None
    assert action.configuration["OAuthToken"] == "ghp_SECRETSECRETSECRET"
    variable = EnvironmentVariable(name="TOKEN", value="s3cr3t-value")
    assert "s3cr3t-value" not in repr(variable)


def test_summary_outlines_the_pipeline() -> None:
    """summary() names the type, mode, stages and actions in run order, with artifact flow."""
    text = declaration("13-").summary()
    assert text.splitlines()[0].startswith("pipeline ")
    assert "V2 (default)" in text
    assert "1. Source" in text
    assert "(Source/ThirdParty/GitHub/1)" in text
    assert "-> " in text


# -------------------------------------------------------------------------------------- documents, metadata


def test_metadata_epoch_seconds_become_utc_datetimes_and_are_written_back_raw() -> None:
    """Epoch-float timestamps (corpus file 07) read as aware UTC datetimes and write back as floats."""
    data = corpus("07-")
    document = PipelineDocument.from_api(data)
    metadata = document.metadata
    assert metadata is not None
    assert metadata.pipeline_arn == "arn:aws:codepipeline:us-east-1:181171223360:HelloGo"
    assert metadata.created == datetime.fromtimestamp(1559407567.935, tz=timezone.utc)
    assert metadata.updated is not None
    assert metadata.updated.tzinfo is not None
    assert metadata.polling_disabled_at is None
    assert metadata.to_api() == data["metadata"]


def test_metadata_iso_strings_read_as_utc_and_keep_their_form() -> None:
    """ISO-8601 timestamps with an offset (corpus file 27) read as UTC datetimes, written back as the text read."""
    data = corpus("27-")
    assert data["metadata"]["created"].endswith("+05:30")
    metadata = PipelineDocument.from_api(data).metadata
    assert metadata is not None
    assert metadata.created == datetime(2026, 3, 10, 5, 1, 19, 756000, tzinfo=timezone.utc)
    assert metadata.created is not None
    assert metadata.created.utcoffset() == timedelta(0)
    assert metadata.to_api() == data["metadata"]


def test_metadata_variants_of_timestamps() -> None:
    """ "Z" and offset-less strings mean UTC; unparseable values are kept raw in extra."""
    metadata = PipelineMetadata.from_api(
        {"created": "2024-01-02T03:04:05Z", "updated": "2024-01-02T03:04:05", "pollingDisabledAt": "soon"}
    )
    expected = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert metadata.created == expected
    assert metadata.updated == expected
    assert metadata.polling_disabled_at is None
    assert metadata.extra == {"pollingDisabledAt": "soon"}
    assert metadata.to_api() == {
        "created": "2024-01-02T03:04:05Z",
        "updated": "2024-01-02T03:04:05",
        "pollingDisabledAt": "soon",
    }


def test_changed_metadata_timestamps_are_written_as_datetimes() -> None:
    """A timestamp changed after reading is written as the datetime (epoch seconds in JSON)."""
    data = corpus("07-")
    document = PipelineDocument.from_api(data)
    assert document.metadata is not None
    later = datetime(2030, 1, 1, tzinfo=timezone.utc)
    changed = attrs.evolve(document, metadata=attrs.evolve(document.metadata, updated=later))
    assert changed.to_api()["metadata"]["updated"] == later
    assert changed.to_api()["metadata"]["created"] == data["metadata"]["created"]
    assert json.loads(changed.to_json())["metadata"]["updated"] == later.timestamp()


def test_document_reads_a_botocore_parsed_get_pipeline_response() -> None:
    """A boto3-style response (datetimes, ResponseMetadata) reads whole; ResponseMetadata is dropped."""
    service = botocore.session.get_session().get_service_model("codepipeline")
    body = (CORPUS / "07-nickborgers-beanstalk-github-approval-externallink-metadata.json").read_bytes()
    output_shape = service.operation_model("GetPipeline").output_shape
    assert output_shape is not None
    response = botocore.parsers.create_parser("json").parse(
        {"body": body, "headers": {"x-amzn-requestid": "req-1"}, "status_code": 200}, output_shape
    )
    assert "ResponseMetadata" in response
    document = PipelineDocument.from_api(response)
    assert document.declaration.name == "HelloGo"
    assert document.metadata is not None
    assert document.metadata.created == response["metadata"]["created"]
    assert document.extra == {}
    expected = {key: value for key, value in response.items() if key != "ResponseMetadata"}
    assert document.to_api() == expected


def test_document_reads_bare_declarations_and_keeps_unknown_top_level_members() -> None:
    """from_json takes a bare declaration too; create-pipeline input keeps its tags in extra."""
    bare = json.dumps(corpus("33-")["pipeline"])
    document = PipelineDocument.from_json(bare)
    assert document.metadata is None
    assert document.to_api() == {"pipeline": corpus("33-")["pipeline"]}
    with_tags = {"pipeline": corpus("33-")["pipeline"], "tags": [{"key": "team", "value": "a"}]}
    tagged = PipelineDocument.from_json(json.dumps(with_tags))
    assert tagged.extra == {"tags": [{"key": "team", "value": "a"}]}
    assert tagged.to_api() == with_tags


def test_document_to_json_can_leave_metadata_out() -> None:
    """to_json(include_metadata=False) gives --cli-input-json input for update-pipeline."""
    data = corpus("27-")
    text = PipelineDocument.from_api(data).to_json(include_metadata=False, indent=None)
    assert json.loads(text) == {"pipeline": data["pipeline"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "does not parse"),
        (b"\xff\xfe\x00", "does not parse"),
        ("[1, 2]", "must be an object, got list"),
        ('{"metadata": {}}', 'needs a "pipeline" object'),
        ('{"pipeline": "p"}', 'needs a "pipeline" object'),
    ],
)
def test_document_rejects_what_is_not_a_pipeline(text: str | bytes, message: str) -> None:
    """Text that is not pipeline JSON raises InvalidStructureError saying why."""
    with pytest.raises(InvalidStructureError, match=message):
        PipelineDocument.from_json(text)


def test_document_keeps_a_mistyped_metadata_member_raw() -> None:
    """A metadata value that is not an object stays in the document's extra, written back as it was."""
    data = {"pipeline": corpus("33-")["pipeline"], "metadata": "n/a"}
    document = PipelineDocument.from_api(data)
    assert document.metadata is None
    assert document.to_api() == data


# -------------------------------------------------------------------------------------------------- checks


def test_problems_delegate_to_validation() -> None:
    """problems() is the validation module's verdict on to_api(), all problems at once."""
    from pipepilot.model.validation import find_problems

    valid = declaration("01-")
    assert valid.problems() == []
    assert valid.validate() is valid
    invalid = declaration("20-")
    assert invalid.problems() == find_problems(invalid.to_api())
    assert len(invalid.problems()) > 1


def test_validate_raises_with_every_problem() -> None:
    """validate() raises PipelineValidationError carrying all the problems and the pipeline name."""
    invalid = declaration("32-")
    with pytest.raises(PipelineValidationError) as caught:
        invalid.validate()
    assert caught.value.problems == tuple(invalid.problems())
    assert caught.value.pipeline_name == invalid.name
    assert {problem.code for problem in caught.value.problems} >= {"too-few-stages"}


def test_problems_pass_validation_options_through() -> None:
    """default_pipeline_type reaches the validator: V2 features on a typeless declaration make it V2 (as
    AWS documents) unless the caller asks for V1."""
    data = corpus("23-")["pipeline"]
    del data["pipelineType"]
    decl = PipelineDeclaration.from_api(data)
    assert not any(problem.code == "requires-v2" for problem in decl.problems())
    assert any(problem.code == "requires-v2" for problem in decl.problems(default_pipeline_type="V1"))


def test_reading_declarations_does_not_load_validation() -> None:
    """Importing the model and reading a declaration leaves validation (and botocore's model) unloaded."""
    code = (
        "import json, sys\n"
        "from pipepilot.model.declaration import PipelineDeclaration\n"
        f"PipelineDeclaration.from_api(json.loads({json.dumps(json.dumps(corpus('05-')['pipeline']))})).to_api()\n"
        "print('pipepilot.model.validation' in sys.modules, any(m.startswith('mypy_boto3') for m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


# ------------------------------------------------------------------------------------------- small classes


def test_artifact_store_and_encryption_key() -> None:
    """Artifact stores read their bucket and KMS key (corpus file 27 uses a key alias)."""
    store = declaration("27-").artifact_store
    assert isinstance(store, ArtifactStore)
    assert store.encryption_key is not None
    assert store.encryption_key.id == "alias/aws/s3"
    assert store.encryption_key.type is EncryptionKeyType.KMS


def test_artifact_stores_map_round_trips() -> None:
    """Cross-region artifact stores are a map of region to store."""
    data = {
        "name": "p",
        "roleArn": "r",
        "stages": [],
        "artifactStores": {
            "us-east-1": {"type": "S3", "location": "a"},
            "eu-west-1": {"type": "S3", "location": "b", "encryptionKey": {"id": "k", "type": "KMS"}},
        },
    }
    decl = PipelineDeclaration.from_api(data)
    assert decl.artifact_stores is not None
    assert decl.artifact_stores["eu-west-1"].location == "b"
    assert dict(decl.to_api()) == data


def test_output_artifact_files_and_interned_inputs() -> None:
    """Output artifacts keep their file list; equal inputs read from different actions are equal."""
    output = OutputArtifact.from_api({"name": "Out", "files": ["a.zip", "b/**"]})
    assert output.files == ("a.zip", "b/**")
    assert output.to_api() == {"name": "Out", "files": ["a.zip", "b/**"]}
    first = InputArtifact.from_api({"name": "Src"})
    second = InputArtifact.from_api({"name": "Src"})
    assert first == second
    assert first.to_api() == {"name": "Src"}
