"""Property tests: any declaration-shaped JSON survives ``from_api`` -> ``to_api`` unchanged.

The strategies generate wire dicts shaped like botocore's CodePipeline model, then make them awkward the
way real input can be: optional members present or absent (and lists present but empty), enumeration
values AWS may add later, unknown members at every level (fields added after this release), the odd
required member missing, and values of the wrong JSON type. Whatever comes in must come back out.
"""

from __future__ import annotations

import string
from datetime import timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pipepilot.model.declaration import (
    ActionDeclaration,
    PipelineDeclaration,
    PipelineDocument,
    StageDeclaration,
)

# Property-based over hundreds of generated declarations: part of the full run only.
pytestmark = pytest.mark.slow

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Json = Any
Strategy = st.SearchStrategy[Any]

# ---------------------------------------------------------------------------------------------- leaves

names = st.text(alphabet=string.ascii_letters + string.digits + "-_.@", min_size=1, max_size=12)
texts = st.text(max_size=20)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)
json_values: Strategy = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)),
    max_leaves=4,
)
# A value of some JSON type, often not the one a member expects: it must be kept raw, not coerced.
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.text(max_size=4),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(0, 3), max_size=2),
)
unknown_keys = st.text(alphabet=string.ascii_letters + "_", min_size=1, max_size=14)


def enum_values(*known: str) -> Strategy:
    """Known wire values, or a value AWS might add later."""
    return st.one_of(
        st.sampled_from(known), st.text(alphabet=string.ascii_uppercase + "_", min_size=1, max_size=8)
    )


def lists(element: Strategy, *, max_size: int = 2) -> Strategy:
    """A wire list, empty included (present-but-empty must survive, too)."""
    return st.lists(element, max_size=max_size)


def wire_object(required: dict[str, Strategy], optional: dict[str, Strategy]) -> Strategy:
    """A JSON object of the given members, plus unknown ones, with the irregularities real input has.

    Few draws per object keep generation fast: one bit mask picks the optional members present, one roll
    decides whether this object drops a required member, mistypes a member, or is clean.
    """
    known = set(required) | set(optional)
    optional_keys = list(optional)
    extra_members = st.dictionaries(
        unknown_keys.filter(lambda key: key not in known), json_values, max_size=2
    )

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Json]:
        present = draw(st.integers(0, 2 ** len(optional_keys) - 1))
        oddity = draw(st.integers(0, 11))
        keys = list(required) + [key for bit, key in enumerate(optional_keys) if present >> bit & 1]
        if oddity == 0 and required:
            keys.remove(draw(st.sampled_from(list(required))))  # invalid input must round-trip, too
        mistyped = draw(st.sampled_from(keys)) if oddity == 1 and keys else None
        data: dict[str, Json] = {}
        for key in keys:
            strategy = required[key] if key in required else optional[key]
            data[key] = draw(junk) if key == mistyped else draw(strategy)
        if draw(st.integers(0, 3)) == 0:
            data.update(draw(extra_members))
        return data

    return build()


# -------------------------------------------------------------------------------------------- the shapes

string_map = st.dictionaries(names, texts, max_size=3)
string_list = lists(texts)
input_artifact = wire_object({"name": names}, {})
output_artifact = wire_object({"name": names}, {"files": st.lists(texts, min_size=1, max_size=3)})
environment_variable = wire_object(
    {"name": names, "value": texts}, {"type": enum_values("PLAINTEXT", "SECRETS_MANAGER")}
)
action_type_id = wire_object(
    {
        "category": enum_values("Source", "Build", "Deploy", "Test", "Invoke", "Approval", "Compute"),
        "owner": enum_values("AWS", "ThirdParty", "Custom"),
        "provider": names,
        "version": names,
    },
    {},
)
action = wire_object(
    {"name": names, "actionTypeId": action_type_id},
    {
        "runOrder": st.integers(1, 999),
        "configuration": string_map,
        "commands": string_list,
        "outputArtifacts": lists(output_artifact),
        "inputArtifacts": lists(input_artifact),
        "outputVariables": string_list,
        "roleArn": texts,
        "region": names,
        "namespace": names,
        "timeoutInMinutes": st.integers(5, 86400),
        "environmentVariables": lists(environment_variable),
    },
)
rule_type_id = wire_object(
    {"category": enum_values("Rule"), "provider": names}, {"owner": enum_values("AWS"), "version": names}
)
rule = wire_object(
    {"name": names, "ruleTypeId": rule_type_id},
    {
        "configuration": string_map,
        "commands": string_list,
        "inputArtifacts": lists(input_artifact),
        "roleArn": texts,
        "region": names,
        "timeoutInMinutes": st.integers(5, 86400),
    },
)
results = enum_values("ROLLBACK", "FAIL", "RETRY", "SKIP")
condition = wire_object({}, {"result": results, "rules": lists(rule, max_size=1)})
conditions = wire_object({"conditions": lists(condition, max_size=1)}, {})
failure_conditions = wire_object(
    {},
    {
        "result": results,
        "retryConfiguration": wire_object({}, {"retryMode": enum_values("FAILED_ACTIONS", "ALL_ACTIONS")}),
        "conditions": lists(condition, max_size=1),
    },
)
blocker = wire_object({"name": names, "type": enum_values("Schedule")}, {})
stage = wire_object(
    {"name": names, "actions": lists(action)},
    {
        "blockers": lists(blocker, max_size=1),
        "onFailure": failure_conditions,
        "onSuccess": conditions,
        "beforeEntry": conditions,
    },
)
encryption_key = wire_object({"id": names, "type": enum_values("KMS")}, {})
artifact_store = wire_object(
    {"type": enum_values("S3"), "location": names}, {"encryptionKey": encryption_key}
)
variable = wire_object({"name": names}, {"defaultValue": texts, "description": texts})
criteria = wire_object({}, {"includes": string_list, "excludes": string_list})
push_filter = wire_object({}, {"tags": criteria, "branches": criteria, "filePaths": criteria})
pull_request_filter = wire_object(
    {},
    {"events": lists(enum_values("OPEN", "UPDATED", "CLOSED")), "branches": criteria, "filePaths": criteria},
)
git_configuration = wire_object(
    {"sourceActionName": names},
    {"push": lists(push_filter, max_size=1), "pullRequest": lists(pull_request_filter, max_size=1)},
)
trigger = wire_object(
    {"providerType": enum_values("CodeStarSourceConnection"), "gitConfiguration": git_configuration}, {}
)
pipeline = wire_object(
    {"name": names, "roleArn": texts, "stages": lists(stage)},
    {
        "artifactStore": artifact_store,
        "artifactStores": st.dictionaries(names, artifact_store, max_size=2),
        "version": st.integers(1, 10**6),
        "executionMode": enum_values("QUEUED", "SUPERSEDED", "PARALLEL"),
        "pipelineType": enum_values("V1", "V2"),
        "variables": lists(variable, max_size=1),
        "triggers": lists(trigger, max_size=1),
    },
)
# Fixed UTC offsets: read as UTC, these must still write back as read (near year 1 or 9999 a moment may
# have no UTC equivalent; it is then kept raw).
offsets = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
timestamps = st.one_of(
    st.floats(min_value=0, max_value=4e9, allow_nan=False),
    st.integers(0, 4 * 10**9),
    st.datetimes(timezones=st.just(timezone.utc)).map(lambda moment: moment.isoformat()),
    st.datetimes().map(lambda moment: moment.isoformat()),
    st.datetimes(timezones=offsets).map(lambda moment: moment.isoformat()),
    st.datetimes(timezones=offsets),  # as botocore hands them over: aware, in some zone
    st.floats(allow_nan=False, allow_infinity=False),  # mostly out of datetime's range: kept raw
)
metadata = wire_object(
    {}, {"pipelineArn": texts, "created": timestamps, "updated": timestamps, "pollingDisabledAt": timestamps}
)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Json]:
    """A GetPipeline response or --cli-input-json file: pipeline, maybe metadata, maybe unknown members."""
    document: dict[str, Json] = {"pipeline": draw(pipeline)}
    if draw(st.booleans()):
        document["metadata"] = draw(metadata)
    extras = draw(
        st.dictionaries(
            unknown_keys.filter(lambda key: key not in {"pipeline", "metadata", "ResponseMetadata"}),
            json_values,
            max_size=2,
        )
    )
    document.update(extras)
    return document


# ------------------------------------------------------------------------------------------- properties


@SETTINGS
@given(pipeline)
def test_any_pipeline_declaration_round_trips(data: dict[str, Json]) -> None:
    """PipelineDeclaration.from_api(d).to_api() == d, unknown members and odd values included."""
    decl = PipelineDeclaration.from_api(data)
    assert decl.to_api() == data
    assert PipelineDeclaration.from_api(decl.to_api()) == decl


@SETTINGS
@given(documents())
def test_any_pipeline_document_round_trips(data: dict[str, Json]) -> None:
    """PipelineDocument.from_api(d).to_api() == d for whole responses, metadata timestamps as read."""
    assert PipelineDocument.from_api(data).to_api() == data


@SETTINGS
@given(stage, unknown_keys, json_values)
def test_edits_keep_unknown_members(data: dict[str, Json], key: str, value: Json) -> None:
    """An edit through evolve keeps every unknown member of the edited object and of its children."""
    data = {**data, "x" + key: value}
    read = StageDeclaration.from_api(data)
    edited = read.evolve(name="Renamed").to_api()
    assert edited == {**data, "name": "Renamed"}


@SETTINGS
@given(action)
def test_any_action_round_trips_and_rebuilds_equal(data: dict[str, Json]) -> None:
    """One generated reader handles clean and odd actions alike: to_api gives the input back, and
    reading that output again gives an equal model."""
    read = ActionDeclaration.from_api(data)
    assert read.to_api() == data
    assert ActionDeclaration.from_api(read.to_api()) == read
