"""The generic botocore-shape checker: every constraint of the model, reported all at once."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from botocore.model import ServiceModel, Shape

from pipepilot import _shapes
from pipepilot._shapes import (
    ShapeProblem,
    check_shape,
    describe_pattern_problem,
    member_path,
    request_problems,
    service_model,
)

_FAKE_DESCRIPTION: dict[str, Any] = {
    "metadata": {
        "apiVersion": "2020-01-01",
        "endpointPrefix": "fake",
        "jsonVersion": "1.1",
        "protocol": "json",
        "serviceId": "Fake",
        "signatureVersion": "v4",
        "targetPrefix": "Fake_20200101",
        "uid": "fake-2020-01-01",
    },
    "operations": {
        "Put": {"name": "Put", "http": {"method": "POST", "requestUri": "/"}, "input": {"shape": "PutInput"}},
        "Ping": {"name": "Ping", "http": {"method": "POST", "requestUri": "/"}},
    },
    "shapes": {
        "PutInput": {
            "type": "structure",
            "required": ["name"],
            "members": {
                "name": {"shape": "Name"},
                "color": {"shape": "Color"},
                "count": {"shape": "Count"},
                "size": {"shape": "Size"},
                "ratio": {"shape": "Ratio"},
                "enabled": {"shape": "Flag"},
                "at": {"shape": "When"},
                "data": {"shape": "Data"},
                "tags": {"shape": "Tags"},
                "items": {"shape": "Items"},
                "anything": {"shape": "Anything"},
                "node": {"shape": "Node"},
                "label": {"shape": "Label"},
                "secretToken": {"shape": "SecretToken"},
            },
        },
        "Name": {"type": "string", "min": 2, "max": 10, "pattern": "[a-z]+"},
        "Color": {"type": "string", "enum": ["RED", "GREEN", "BLUE"]},
        "Count": {"type": "integer", "min": 1, "max": 5},
        "Size": {"type": "long", "min": 0},
        "Ratio": {"type": "double"},
        "Flag": {"type": "boolean"},
        "When": {"type": "timestamp"},
        "Data": {"type": "blob"},
        "Tags": {"type": "map", "key": {"shape": "TagKey"}, "value": {"shape": "TagValue"}, "max": 2},
        "TagKey": {"type": "string", "min": 1, "max": 3},
        "TagValue": {"type": "string"},
        "Items": {"type": "list", "member": {"shape": "Item"}, "min": 1, "max": 2},
        "Item": {"type": "structure", "required": ["id"], "members": {"id": {"shape": "Count"}}},
        "Anything": {"type": "structure", "members": {}, "document": True},
        "Node": {"type": "structure", "members": {"child": {"shape": "Node"}, "name": {"shape": "Name"}}},
        # Java's Unicode property classes: Python's `re` rejects them.
        "Label": {"type": "string", "pattern": "\\p{Lu}[a-z]*"},
        "SecretToken": {"type": "string", "pattern": "[0-9a-f]{8}-[0-9a-f]{4}"},
    },
}


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> ServiceModel:
    model = ServiceModel(_FAKE_DESCRIPTION, "fake")
    real = _shapes.service_model

    def lookup(service: str) -> ServiceModel:
        return model if service == "fake" else real(service)

    monkeypatch.setattr(_shapes, "service_model", lookup)
    return model


def _found(problems: list[ShapeProblem]) -> list[tuple[str, str]]:
    return [(problem.path, problem.code) for problem in problems]


def _put(**params: Any) -> list[tuple[str, str]]:
    return _found(request_problems("fake", "Put", {"name": "ok", **params}))


def _codepipeline_shape(name: str) -> Shape:
    return service_model("codepipeline").shape_for(name)


def test_valid_request_has_no_problems(fake_model: ServiceModel) -> None:
    """A request that honours every constraint yields nothing."""
    problems = request_problems(
        "fake",
        "Put",
        {
            "name": "abc",
            "color": "RED",
            "count": 5,
            "size": 0,
            "ratio": 0.5,
            "enabled": False,
            "at": 1700000000.5,
            "data": b"\x00",
            "tags": {"k": "v", "key": ""},
            "items": [{"id": 1}],
            "anything": {"free": ["form", 1, None]},
            "node": {"child": {"child": {"name": "deep"}}},
            "label": "Hello",
        },
    )
    assert problems == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"name": 5}, [("name", "type")], id="string-type"),
        pytest.param({"count": True}, [("count", "type")], id="bool-is-not-integer"),
        pytest.param({"count": 2.0}, [("count", "type")], id="float-is-not-integer"),
        pytest.param({"ratio": "1"}, [("ratio", "type")], id="double-type"),
        pytest.param({"enabled": "true"}, [("enabled", "type")], id="boolean-type"),
        pytest.param({"at": [1]}, [("at", "type")], id="timestamp-type"),
        pytest.param({"data": 1}, [("data", "type")], id="blob-type"),
        pytest.param({"tags": []}, [("tags", "type")], id="map-type"),
        pytest.param({"items": {"id": 1}}, [("items", "type")], id="list-type"),
        pytest.param({"items": [5]}, [("items[0]", "type")], id="structure-type"),
    ],
)
def test_type_problems(
    fake_model: ServiceModel, params: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    """A value of the wrong JSON type is reported at its own path with code `type`."""
    assert _put(**params) == expected


def test_required_member_is_reported_at_its_path(fake_model: ServiceModel) -> None:
    """Missing required members (and JSON null ones) are reported where they belong."""
    assert _found(request_problems("fake", "Put", {"items": [{}]})) == [
        ("items[0].id", "required"),
        ("name", "required"),
    ]
    assert _found(request_problems("fake", "Put", {"name": None})) == [("name", "required")]


def test_null_optional_member_counts_as_absent(fake_model: ServiceModel) -> None:
    """JSON null for an optional member is what AWS's JSON protocol treats as absent: no problem."""
    assert _put(color=None, count=None) == []


def test_unknown_member_suggests_the_closest_name(fake_model: ServiceModel) -> None:
    """An unknown member names the shape, the closest real member and all known ones."""
    (problem,) = request_problems("fake", "Put", {"name": "ok", "colour": "RED"})
    assert (problem.path, problem.code) == ("colour", "unknown-member")
    assert "not a member of PutInput" in problem.message
    assert "did you mean 'color'?" in problem.message
    assert "known members: name, color" in problem.message


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"name": "a"}, [("name", "too-short")], id="too-short"),
        pytest.param({"name": ""}, [("name", "too-short")], id="empty-reports-length-only"),
        pytest.param({"name": "abcdefghijk"}, [("name", "too-long")], id="too-long"),
        pytest.param(
            {"name": "abcdefghijK"}, [("name", "too-long"), ("name", "pattern")], id="long-and-bad-chars"
        ),
        pytest.param({"count": 0}, [("count", "out-of-range")], id="below-min"),
        pytest.param({"count": 6}, [("count", "out-of-range")], id="above-max"),
        pytest.param({"size": -1}, [("size", "out-of-range")], id="long-below-min"),
        pytest.param({"items": []}, [("items", "too-few")], id="list-too-few"),
        pytest.param({"items": [{"id": 1}] * 3}, [("items", "too-many")], id="list-too-many"),
        pytest.param({"tags": {"a": "", "b": "", "c": ""}}, [("tags", "too-many")], id="map-too-many"),
        pytest.param({"tags": {"long": "v"}}, [("tags.long", "too-long")], id="map-key-too-long"),
        pytest.param({"tags": {"k": 1}}, [("tags.k", "type")], id="map-value-type"),
        pytest.param({"color": "PURPLE"}, [("color", "enum")], id="enum"),
        pytest.param(
            {"node": {"child": {"name": "X"}}},
            [("node.child.name", "too-short"), ("node.child.name", "pattern")],
            id="recursive-shape",
        ),
    ],
)
def test_constraint_problems(
    fake_model: ServiceModel, params: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    """Lengths, ranges, sizes and enums beyond what botocore checks are all reported."""
    assert _put(**params) == expected


def test_every_problem_is_reported_at_once(fake_model: ServiceModel) -> None:
    """Problems do not stop at the first: one request yields all of them, in document order."""
    found = _found(
        request_problems("fake", "Put", {"color": "X", "count": 9, "items": [{"id": 0}, {}], "extra": 1})
    )
    assert found == [
        ("color", "enum"),
        ("count", "out-of-range"),
        ("items[0].id", "out-of-range"),
        ("items[1].id", "required"),
        ("extra", "unknown-member"),
        ("name", "required"),
    ]


def test_messages_say_how_to_fix(fake_model: ServiceModel) -> None:
    """Each message names the field and the remedy."""
    messages = {
        problem.path: problem.message
        for problem in request_problems(
            "fake",
            "Put",
            {"name": "abcdefghijk", "color": "REDD", "count": 0, "items": [], "tags": {"long": "v"}},
        )
    }
    assert messages == {
        "name": "name is 11 characters long; shorten it to at most 10",
        "color": "color 'REDD' is not one of RED, GREEN, BLUE; did you mean 'RED'?",
        "count": "count is 0; use a value between 1 and 5",
        "items": "items has 0 items; it needs at least 1",
        "tags.long": "key 'long' is 4 characters long; shorten it to at most 3",
    }


def test_map_keys_that_are_not_identifiers_are_quoted_in_paths(fake_model: ServiceModel) -> None:
    """Odd map keys appear as JSON strings in brackets so the path stays unambiguous."""
    assert _put(tags={"a.b": 1}) == [('tags["a.b"]', "type")]
    assert member_path("", "name") == "name"
    assert member_path("config", "has space") == 'config["has space"]'


def test_pattern_python_cannot_compile_is_skipped_with_a_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    """Java-only pattern syntax is skipped (no false positive), and the skip is logged at DEBUG."""
    caplog.set_level(logging.DEBUG, logger="pipepilot._shapes")
    # A pattern no other test uses: compiled patterns are cached process-wide, so the log appears once.
    description = {**_FAKE_DESCRIPTION, "shapes": {"Title": {"type": "string", "pattern": "\\p{Lt}\\p{Ll}*"}}}
    shape = ServiceModel(description, "fake").shape_for("Title")
    assert list(check_shape(shape, "anything at all")) == []
    assert any("p{Lt}" in record.getMessage() for record in caplog.records)


def test_operation_without_input_accepts_only_an_empty_request(fake_model: ServiceModel) -> None:
    """An input-less operation reports every given member as unknown."""
    assert request_problems("fake", "Ping", {}) == []
    assert _found(request_problems("fake", "Ping", {"x": 1})) == [("x", "unknown-member")]


def test_root_of_the_wrong_type(fake_model: ServiceModel) -> None:
    """A non-object request is a single type problem at the root path."""
    (problem,) = request_problems("fake", "Put", ["name"])
    assert (problem.path, problem.code) == ("", "type")
    assert str(problem) == "<root>: value must be an object, not a list [type]"


def test_secret_values_are_never_quoted(fake_model: ServiceModel) -> None:
    """Token-like and sensitive shapes keep their values out of messages."""
    (problem,) = request_problems("fake", "Put", {"name": "ok", "secretToken": "hunter2-secret"})
    assert problem.code == "pattern"
    assert "hunter2" not in problem.message


def test_secret_values_are_not_spelled_out_character_by_character() -> None:
    """For a one-class pattern a secret's offending characters are not listed: they are part of the secret."""
    (problem,) = request_problems(
        "codepipeline", "StartPipelineExecution", {"name": "demo", "clientRequestToken": "tok:en!"}
    )
    assert (problem.path, problem.code) == ("clientRequestToken", "pattern")
    assert problem.message == (
        "clientRequestToken contains characters that are not allowed; allowed: letters, digits and -"
    )
    assert describe_pattern_problem("token", "se!cr#et", "[a-z]+", secret=True) == (
        "token contains characters that are not allowed; allowed: lowercase letters"
    )
    assert "'!'" in describe_pattern_problem("token", "se!cr#et", "[a-z]+")


def test_check_shape_prefixes_paths_and_caches_the_compiled_checker() -> None:
    """`path` prefixes reported paths; checking the same shape twice reuses its compiled checker."""
    shape = _codepipeline_shape("StageDeclaration")
    first = list(check_shape(shape, {"name": "Build", "actions": [{"name": "a b"}]}, "stages[1]"))
    assert _found(first) == [
        ("stages[1].actions[0].name", "pattern"),
        ("stages[1].actions[0].actionTypeId", "required"),
    ]
    compiled = _shapes._compiled[shape]
    assert list(check_shape(shape, {"name": "Build", "actions": []})) == []
    assert _shapes._compiled[shape] is compiled


# --- the real CodePipeline model ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape_name", "value", "valid"),
    [
        pytest.param("ArtifactName", "build_output-1", True, id="artifact-name-ok"),
        # `[a-zA-Z0-9_\-]+` matches a prefix of "build.zip": only a whole-string match rejects it.
        pytest.param("ArtifactName", "build.zip", False, id="artifact-name-full-match"),
        pytest.param("StageName", "Deploy.Prod@eu", True, id="stage-name-ok"),
        pytest.param("StageName", "Deploy Prod", False, id="stage-name-space"),
        pytest.param("RoleArn", "arn:aws:iam::123456789012:role/x", True, id="role-arn-ok"),
        pytest.param("RoleArn", "arn:aws:iam::ACCOUNT:role/x", False, id="role-arn-placeholder"),
        pytest.param("RoleArn", "xarn:aws:iam::123456789012:role/x", False, id="role-arn-prefix"),
        pytest.param("ActionCategory", "Build", True, id="enum-ok"),
        pytest.param("ActionCategory", "build", False, id="enum-case-sensitive"),
        pytest.param("EnvironmentVariableValue", "line one\nline two", True, id="free-text-multiline"),
    ],
)
def test_codepipeline_model_constraints(shape_name: str, value: str, valid: bool) -> None:
    """Patterns from botocore's CodePipeline model apply to the whole value; enums are exact."""
    problems = list(check_shape(_codepipeline_shape(shape_name), value))
    assert (problems == []) is valid


def test_disabled_reason_message_names_forbidden_and_allowed_characters() -> None:
    """A DisableStageTransition reason with forbidden characters gets a character-level explanation."""
    problems = request_problems(
        "codepipeline",
        "DisableStageTransition",
        {"pipelineName": "demo", "stageName": "Deploy", "transitionType": "Inbound", "reason": "no, not_now"},
    )
    assert [str(problem) for problem in problems] == [
        "reason: reason contains ',' and '_' which are not allowed; allowed: letters, digits, space and "
        "! @ ( ) . * ? - [pattern]"
    ]


def test_approval_token_is_not_echoed() -> None:
    """A malformed approval token is reported without quoting it (tokens are secrets)."""
    problems = request_problems(
        "codepipeline",
        "PutApprovalResult",
        {
            "pipelineName": "demo",
            "stageName": "Approve",
            "actionName": "Manual",
            "result": {"summary": "ok", "status": "Approve"},
            "token": "not-a-uuid-but-secret",
        },
    )
    assert _found(problems) == [("result.status", "enum"), ("token", "pattern")]
    assert "did you mean 'Approved'?" in problems[0].message
    assert "not-a-uuid-but-secret" not in problems[1].message


def test_codebuild_tag_pattern_in_java_syntax_causes_no_false_positive() -> None:
    """CodeBuild's `\\p{L}` tag patterns are skipped, so Unicode tags are not rejected."""
    problems = request_problems(
        "codebuild", "UpdateProject", {"name": "my-project", "tags": [{"key": "équipe", "value": "données"}]}
    )
    assert problems == []


@pytest.mark.parametrize(
    ("label", "value", "pattern", "expected"),
    [
        pytest.param(
            "name",
            "my pipeline",
            "[A-Za-z0-9.@\\-_]+",
            "name contains ' ' (space) which is not allowed; allowed: letters, digits and . @ - _",
            id="space",
        ),
        pytest.param(
            "name",
            "Ab",
            "[a-z]+",
            "name contains 'A' which is not allowed; allowed: lowercase letters",
            id="case",
        ),
        pytest.param(
            "id",
            "12",
            "[0-9]{12}",
            "id must be exactly 12 characters long, using only digits",
            id="count-only",
        ),
        pytest.param(
            "token",
            "a_b",
            "^[a-zA-Z0-9-]+$",
            "token contains '_' which is not allowed; allowed: letters, digits and -",
            id="anchored",
        ),
        pytest.param(
            "arn",
            "arn:x",
            "arn:aws(-[\\w]+)*:iam::[0-9]{12}:role/.*",
            "arn 'arn:x' does not match the pattern arn:aws(-[\\w]+)*:iam::[0-9]{12}:role/.* "
            "(the whole value must match); correct it",
            id="complex",
        ),
        pytest.param(
            "word",
            "a b",
            "[\\w]+",
            "word contains ' ' (space) which is not allowed; allowed: letters, digits and _",
            id="word-class",
        ),
    ],
)
def test_describe_pattern_problem(label: str, value: str, pattern: str, expected: str) -> None:
    """Simple one-class patterns are explained character by character; others quote the pattern."""
    assert describe_pattern_problem(label, value, pattern) == expected
