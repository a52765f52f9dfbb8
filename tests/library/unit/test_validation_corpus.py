"""Validation over real published pipeline definitions (tests/data/corpus, attribution in SOURCES.md).

VALID files must yield no problem at all (zero false positives); the EDGE and TEMPLATE files must yield
exactly the findings SOURCES.md names; INVALID files must yield the defect SOURCES.md explains, with the
right code. Paths here are relative to the `pipeline` object (SOURCES.md writes them with a `pipeline.`
prefix).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from pipepilot.model.validation import find_problems

TESTS = next(folder for folder in Path(__file__).resolve().parents if folder.name == "tests")
CORPUS = TESTS / "data" / "corpus"

_ROLE_PATTERN = ("roleArn", "pattern")

# file -> (class in SOURCES.md, every expected (path, code), in document order)
EXPECTED: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "01-awscli-create-pipeline-s3-codedeploy.json": ("VALID", []),
    "02-awscli-update-pipeline-output-with-__type.json": (
        "EDGE",
        # The old response shape's "__type" is not in the API model: botocore would refuse to send it.
        [
            ("stages[0].actions[0].actionTypeId.__type", "unknown-member"),
            ("stages[1].actions[0].actionTypeId.__type", "unknown-member"),
        ],
    ),
    "04-hugo-ws1-v2-queued-codestar-trigger-codedeploy.json": ("TEMPLATE", [_ROLE_PATTERN]),
    "05-rajeesh-cicdtest-java-github-cfn-changeset.json": ("VALID", []),
    "07-nickborgers-beanstalk-github-approval-externallink-metadata.json": ("VALID", []),
    "08-codelabsab-timereport-codecommit-codebuild-metadata.json": ("VALID", []),
    "10-ngtrhieu-codecommit-codebuild-lambda-invoke-userparams.json": ("VALID", []),
    "11-udeesha-secureops-codestar-ecs.json": ("VALID", []),
    "13-rajithII-sam-github-cfn-approval-sns.json": ("VALID", []),
    "15-cloud-custodian-placebo-getpipeline-github.json": ("VALID", []),
    "17-INVALID-codebuild-guide-multi-input-primarysource-provider-AWS-CodeBuild.json": (
        "INVALID",
        # "AWS CodeBuild" is not a provider name; the "account-id" placeholder breaks the role ARN.
        [_ROLE_PATTERN, ("stages[1].actions[0].actionTypeId.provider", "pattern")],
    ),
    "20-INVALID-userguide-trigger-filter-provider-Connection.json": (
        "INVALID",
        # SOURCES.md also lists "non-source action in first stage": the action has no actionTypeId at all,
        # which `required` reports; its category is unknown, so pipepilot does not guess it is non-source.
        [
            ("triggers[0].provider", "unknown-member"),
            ("triggers[0].providerType", "required"),
            ("stages", "too-few-stages"),
            ("stages[0].actions[0].actionTypeId", "required"),
            ("artifactStore", "artifact-store-missing"),
            ("roleArn", "required"),
        ],
    ),
    "21-cloudping-v2-codestar-trigger-branch-filepaths.json": ("VALID", []),
    "23-sst-go-v2-commands-parallel-beforeentry-variablecheck-retry.json": ("VALID", []),
    "25-INVALID-academy-microservices-no-artifactstore-ecr-codedeploytoecs.json": (
        "INVALID",
        [_ROLE_PATTERN, ("artifactStore", "artifact-store-missing")],
    ),
    "27-chinnmayK-explicit-v1-superseded-metadata-iso-clone-ref-kms-alias.json": ("VALID", []),
    "29-solaristic-github-oauth-cfn-dynamic-ref-ecs.json": ("VALID", []),
    "31-moto-test-expected-s3-source-manual-approval-empty-config.json": ("VALID", []),
    "32-INVALID-moto-test-single-stage.json": (
        "INVALID",
        # The S3 source also lacks its one output artifact (an S3 source has exactly one).
        [("stages", "too-few-stages"), ("stages[0].actions[0].outputArtifacts", "too-few-output-artifacts")],
    ),
    "33-moto-test-update-input-minimal-no-runorder-no-config.json": ("VALID", []),
    "36-devesh-v2-superseded-bare-declaration-approval-s3deploy.json": ("VALID", []),
    "38-adilmuhammad-cfn-parameteroverrides-namespace-variables.json": ("VALID", []),
}

# The defect each INVALID/TEMPLATE/EDGE file is described for in SOURCES.md: it must be among the findings.
DESCRIBED: dict[str, tuple[str, str]] = {
    "02-awscli-update-pipeline-output-with-__type.json": (
        "stages[0].actions[0].actionTypeId.__type",
        "unknown-member",
    ),
    "04-hugo-ws1-v2-queued-codestar-trigger-codedeploy.json": _ROLE_PATTERN,
    "17-INVALID-codebuild-guide-multi-input-primarysource-provider-AWS-CodeBuild.json": (
        "stages[1].actions[0].actionTypeId.provider",
        "pattern",
    ),
    "20-INVALID-userguide-trigger-filter-provider-Connection.json": ("triggers[0].providerType", "required"),
    "25-INVALID-academy-microservices-no-artifactstore-ecr-codedeploytoecs.json": (
        "artifactStore",
        "artifact-store-missing",
    ),
    "32-INVALID-moto-test-single-stage.json": ("stages", "too-few-stages"),
}


def _pipeline(name: str) -> Any:
    return json.loads((CORPUS / name).read_text(encoding="utf-8"))["pipeline"]


def _classes_in_sources() -> dict[str, str]:
    text = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^### (\S+\.json)\n- \*\*Class:\*\* ([A-Z]+)", text, re.MULTILINE))


def test_every_corpus_file_has_an_expectation_matching_its_class() -> None:
    """The table above covers every corpus file, with the class SOURCES.md gives it."""
    files = {path.name for path in CORPUS.glob("*.json")}
    assert set(EXPECTED) == files
    assert {name: cls for name, (cls, _) in EXPECTED.items()} == _classes_in_sources()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_findings(name: str) -> None:
    """Each file yields exactly its expected problems: none for VALID, only the placeholders for TEMPLATE."""
    found = [(problem.path, problem.code) for problem in find_problems(_pipeline(name))]
    assert found == EXPECTED[name][1]


@pytest.mark.parametrize("name", sorted(DESCRIBED))
def test_described_defect_is_found(name: str) -> None:
    """The defect SOURCES.md explains for a file is among its problems, with the right code."""
    found = [(problem.path, problem.code) for problem in find_problems(_pipeline(name))]
    assert DESCRIBED[name] in found


def test_valid_files_stay_valid_with_their_region() -> None:
    """Files whose actions all name one region stay valid when that region is given explicitly."""
    for name, (cls, _) in EXPECTED.items():
        if cls != "VALID":
            continue
        pipeline = _pipeline(name)
        regions = {
            action["region"]
            for stage in pipeline["stages"]
            for action in stage["actions"]
            if "region" in action
        }
        for region in regions or {"us-east-1"}:
            assert find_problems(pipeline, region=region) == [], name
