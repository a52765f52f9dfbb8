"""docs/local.md stays true: its examples run, its tables match the code, and the CLI prints the table.

Every code block of the doc preceded by ``<!-- test: NAME -->`` is executed here; the approval-Lambda
example runs as the pytest file it claims to be (with the ``offline_aws`` fixture from pipepilot's plugin).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
from botocore.exceptions import ClientError

import pipepilot.local
from pipepilot.local.__main__ import coverage_text, main
from pipepilot.local.codepipeline import CodePipelineSettings

pytest_plugins = ["pytester"]

ROOT = next(folder for folder in Path(__file__).resolve().parents if (folder / "pyproject.toml").is_file())
DOC = ROOT / "docs" / "local.md"
_MARKED_BLOCK = re.compile(r"<!-- test: (?P<name>[a-z0-9-]+) -->\n```python\n(?P<code>.*?)\n```\n", re.DOTALL)
_TABLE_SECTION = re.compile(
    r"<!-- coverage-table:start -->\n(?P<table>.*?)<!-- coverage-table:end -->", re.DOTALL
)
SCRIPT_EXAMPLES = ("tour", "faults", "settings", "retention")
APPROVAL_EXAMPLE = "approval-lambda"
SERVED_EXAMPLE = "serve"  # listens on a port: runs with the loopback interface allowed


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _examples() -> dict[str, str]:
    examples: dict[str, str] = {}
    for match in _MARKED_BLOCK.finditer(_doc()):
        name = match["name"]
        assert name not in examples, f"two examples are marked {name!r}"
        examples[name] = match["code"] + "\n"
    return examples


def _run_example(name: str) -> dict[str, Any]:
    """Execute one example as a module of its own; returns its namespace."""
    namespace: dict[str, Any] = {"__name__": f"docs_local_{name.replace('-', '_')}"}
    exec(compile(_examples()[name], f"{DOC}#{name}", "exec"), namespace)
    return namespace


# -- the examples -------------------------------------------------------------------------------------


def test_doc_marks_every_example_it_promises() -> None:
    """The doc carries exactly the runnable examples this module executes (none silently dropped)."""
    assert sorted(_examples()) == sorted((*SCRIPT_EXAMPLES, APPROVAL_EXAMPLE, SERVED_EXAMPLE))


@pytest.mark.parametrize("name", SCRIPT_EXAMPLES)
def test_script_example_runs(name: str) -> None:
    """Each script example of the doc runs to completion: its own assertions hold against the engine."""
    _run_example(name)
    assert pipepilot.local._active is None  # the example's offline() context was closed again


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_serving_example_runs() -> None:
    """The "Serving over HTTP" example runs: boto3 clients reach a server on a free loopback port."""
    _run_example(SERVED_EXAMPLE)
    assert pipepilot.local._active is None  # the server's world ended with it


def test_approval_lambda_example_passes_as_a_pytest_file(pytester: pytest.Pytester) -> None:
    """The approval-Lambda example is a complete test file: pytest collects it and it passes."""
    pytester.makepyfile(test_approval_lambda=_examples()[APPROVAL_EXAMPLE])
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-W", "error", "--disable-socket")
    result.assert_outcomes(passed=1)


def test_approval_lambda_example_fails_when_the_handler_does_not_answer() -> None:
    """The example's assertion is meaningful: with a handler that ignores the message, the run stays
    InProgress and the example's test fails."""
    namespace = _run_example(APPROVAL_EXAMPLE)
    namespace["approval_handler"] = lambda event, context: None
    with pipepilot.local.offline() as aws:
        with pytest.raises(AssertionError):
            namespace["test_the_bot_approves_the_release"](aws)
        codepipeline = aws.client("codepipeline")
        (run,) = codepipeline.list_pipeline_executions(pipelineName="release")["pipelineExecutionSummaries"]
        assert run["status"] == "InProgress"


def test_approval_lambda_example_delivers_through_the_sns_subscription() -> None:
    """The example's handler is called once, by the SNS subscription, with SNS's Lambda event (not by
    the test itself)."""
    namespace = _run_example(APPROVAL_EXAMPLE)
    handler = namespace["approval_handler"]
    calls: list[dict[str, Any]] = []

    def recording_handler(event: dict[str, Any], context: Any) -> None:
        calls.append(event)
        handler(event, context)

    namespace["approval_handler"] = recording_handler
    with pipepilot.local.offline() as aws:
        namespace["test_the_bot_approves_the_release"](aws)
    (event,) = calls
    (record,) = event["Records"]
    assert (record["EventSource"], record["Sns"]["Type"]) == ("aws:sns", "Notification")
    assert record["EventSubscriptionArn"].startswith("arn:aws:sns:us-east-1:123456789012:approvals:")


def _queued_pipeline(aws: pipepilot.local.OfflineAWS) -> None:
    aws.verify_roles = False
    source = {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"}
    approval = {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}
    aws.client("codepipeline").create_pipeline(
        pipeline={
            "name": "queued",
            "roleArn": "arn:aws:iam::123456789012:role/queued",
            "artifactStore": {"type": "S3", "location": "queued-artifacts"},
            "pipelineType": "V2",
            "executionMode": "QUEUED",
            "stages": [
                {
                    "name": "Source",
                    "actions": [
                        {
                            "name": "Source",
                            "actionTypeId": source,
                            "configuration": {"S3Bucket": "app", "S3ObjectKey": "app.zip"},
                            "outputArtifacts": [{"name": "App"}],
                        }
                    ],
                },
                {"name": "Approve", "actions": [{"name": "Approve", "actionTypeId": approval}]},
            ],
        }
    )


@pytest.mark.parametrize("way", ["offline-option", "assignment"])
def test_documented_settings_recipe_takes_effect(way: str) -> None:
    """Both documented ways of changing CodePipelineSettings (the offline() option, assigning
    aws.codepipeline_settings) change what the engine does (here: the cap)."""
    capped = CodePipelineSettings(concurrent_execution_cap=1)
    with pipepilot.local.offline(codepipeline_settings=capped if way == "offline-option" else None) as aws:
        if way == "assignment":
            aws.codepipeline_settings = attrs.evolve(aws.codepipeline_settings, concurrent_execution_cap=1)
        _queued_pipeline(aws)  # CreatePipeline starts the first execution: the cap is reached
        with pytest.raises(ClientError) as caught:
            aws.client("codepipeline").start_pipeline_execution(name="queued")
    assert caught.value.response["Error"]["Code"] == "ConcurrentPipelineExecutionsLimitExceededException"
    with pipepilot.local.offline() as aws:  # control: the default cap lets the second execution start
        _queued_pipeline(aws)
        aws.client("codepipeline").start_pipeline_execution(name="queued")


def test_settings_example_uses_the_public_option() -> None:
    """The doc's settings example goes through offline(codepipeline_settings=...) and
    aws.codepipeline_settings, not engine internals."""
    example = _examples()["settings"]
    assert "codepipeline_settings=" in example
    assert "aws.codepipeline_settings =" in example
    assert "world" not in example
    assert "runtime" not in example


# -- the tables ---------------------------------------------------------------------------------------


def test_coverage_table_in_doc_is_current() -> None:
    """The operations table in the doc is exactly what coverage_table() generates today."""
    match = _TABLE_SECTION.search(_doc())
    assert match is not None, "docs/local.md lost its coverage-table markers"
    assert match["table"].strip("\n") == pipepilot.local.coverage_table().strip("\n"), (
        "docs/local.md's operations table is stale: regenerate it with `python -m pipepilot.local --markdown`"
    )


def test_doc_lists_every_codepipeline_setting_with_its_default() -> None:
    """Every CodePipelineSettings field has a row in the doc's settings table (a new one cannot hide)."""
    doc = _doc()
    for field in attrs.fields(CodePipelineSettings):
        row = re.search(rf"^\| `{field.name}` \| (?P<default>[^|]+) \|", doc, re.MULTILINE)
        assert row is not None, f"docs/local.md does not document the setting {field.name}"
        default = field.default
        if isinstance(default, (str, bool)) or (isinstance(default, int) and default < 10_000):
            assert row["default"].strip().strip("`") in (str(default), f'"{default}"'), field.name


# -- python -m pipepilot.local ------------------------------------------------------------------------


def test_markdown_option_prints_the_coverage_table(capsys: pytest.CaptureFixture[str]) -> None:
    """``--markdown`` prints coverage_table() unchanged and exits 0."""
    assert main(["--markdown"]) == 0
    assert capsys.readouterr().out == pipepilot.local.coverage_table()


def _markdown_rows() -> list[tuple[str, bool]]:
    """(operation, answered) per row of coverage_table(), in its order (a name can be in both services)."""
    rows = re.findall(
        r"^\| `(\w+)` \| (answered|not emulated)", pipepilot.local.coverage_table(), re.MULTILINE
    )
    return [(name, status == "answered") for name, status in rows]


def test_plain_listing_agrees_with_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Without options every operation appears once, marked + exactly when the table says answered."""
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out == coverage_text()
    listed = re.findall(r"^  ([+-]) (\w+)$", out, re.MULTILINE)
    assert [(name, mark == "+") for mark, name in listed] == _markdown_rows()
    headings = re.findall(
        r"^(CodePipeline|CodeBuild): (\d+) of (\d+) operations answered$", out, re.MULTILINE
    )
    assert [title for title, _, _ in headings] == ["CodePipeline", "CodeBuild"]
    assert sum(int(answered) for _, answered, _ in headings) == sum(done for _, done in _markdown_rows())


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown option exits with argparse's usage status 2 and prints nothing to stdout."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--html"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().out == ""


def test_module_runs_with_python_dash_m() -> None:
    """``python -m pipepilot.local --markdown`` works from a shell and prints the same table."""
    completed = subprocess.run(
        [sys.executable, "-m", "pipepilot.local", "--markdown"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == pipepilot.local.coverage_table()
