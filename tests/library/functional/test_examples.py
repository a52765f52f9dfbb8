"""The scripts in ``examples/`` run as documented: offline, without network, and they say what they did.

Every script is run as a subprocess with this interpreter, the way the README runs it, under a
``sitecustomize`` that makes any network connection fail (pytest-socket only guards this process). The
release demo is also run in-process (faster, and its expectations can be tampered with) to check its
story, its exit status when something goes differently, and its hostile-network mode.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import pipepilot.local

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

# Each example runs as a subprocess, the release demo in-process too: part of the full run only.
pytestmark = pytest.mark.slow

ROOT = next(folder for folder in Path(__file__).resolve().parents if (folder / "pyproject.toml").is_file())
EXAMPLES = ROOT / "examples"
CORPUS_FILE = ROOT / "tests" / "data" / "corpus" / "13-rajithII-sam-github-cfn-approval-sns.json"

# The arguments each example is run with, and lines its output must contain.
RUNS: dict[str, tuple[list[str], list[str]]] = {
    "release.py": (
        [],
        [
            "creating it started release 1",
            'Approved: "Staging smoke tests passed',
            "held at the disabled transition",
            "ExecutionFailed: stage Staging, action DeployStaging",
            "release 3 Succeeded",
            "Everything went as expected.",
        ],
    ),
    "validate_pipeline.py": ([str(CORPUS_FILE)], ["No problems found."]),
}

# Loaded into every example subprocess: a connection attempt, or a name lookup, fails loudly.
NO_NETWORK = """
import socket

def _refuse(*args, **kwargs):
    raise RuntimeError("an example tried to use the network")

socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.getaddrinfo = _refuse
socket.create_connection = _refuse
"""


def _examples() -> list[str]:
    return sorted(path.name for path in EXAMPLES.glob("*.py") if not path.name.startswith("_"))


@pytest.fixture
def no_network_env(tmp_path: Path) -> dict[str, str]:
    """The environment of an example subprocess: this test's fake AWS settings, and no network."""
    (tmp_path / "sitecustomize.py").write_text(NO_NETWORK)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    return env


def _run(script: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_network_guard_of_example_runs_works(no_network_env: dict[str, str]) -> None:
    """The guard is real: in an example's environment, opening a connection fails before any packet."""
    code = "import socket; socket.create_connection(('example.com', 80), timeout=1)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=no_network_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "an example tried to use the network" in done.stderr


def test_every_example_has_a_documented_run() -> None:
    """A new example must say here how it is run and what it prints, so CI runs it too."""
    assert _examples() == sorted(RUNS)


@pytest.mark.parametrize("script", sorted(RUNS))
def test_example_runs_offline_and_exits_0(script: str, no_network_env: dict[str, str]) -> None:
    """Each example, run as the README runs it, exits 0 and prints its key lines, with no network."""
    args, expected = RUNS[script]
    done = _run(script, args, no_network_env)
    assert done.returncode == 0, done.stdout + done.stderr
    for line in expected:
        assert line in done.stdout, f"{line!r} missing from:\n{done.stdout}"
    assert "tried to use the network" not in done.stderr


def test_the_release_demo_needs_no_aws_configuration(no_network_env: dict[str, str], tmp_path: Path) -> None:
    """On a fresh machine (no credentials, no region, no config files) the README's first command works."""
    env = {name: value for name, value in no_network_env.items() if not name.startswith("AWS_")}
    empty = tmp_path / "empty-aws-config"
    empty.touch()
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = str(empty)
    started = time.perf_counter()
    done = _run("release.py", [], env)
    took = time.perf_counter() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Everything went as expected." in done.stdout
    print(f"release.py offline, as a subprocess: {took:.2f} s wall time")  # shown with pytest -s


# ------------------------------------------------------------------------------------------ in-process


@pytest.fixture
def release() -> ModuleType:
    """The release demo's module (``examples/release.py`` and ``pipepilot demo`` run its ``main(argv)``)."""
    return importlib.import_module("pipepilot.cli._demo")


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _index(lines: list[str], pattern: str, start: int = 0) -> int:
    """The index of the first line at or after ``start`` that matches ``pattern`` (a regex)."""
    for number in range(start, len(lines)):
        if re.search(pattern, lines[number]):
            return number
    raise AssertionError(f"no line matching {pattern!r} after line {start}:\n" + "\n".join(lines))


def _seconds(duration: str) -> int:
    """``1h02m05s`` / ``2m05s`` / ``5s`` (as the demo prints durations) -> seconds."""
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(\d+)s", duration)
    assert match is not None, duration
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def test_the_release_story_happens_in_order(release: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Release 1 is followed stage by stage (with its build's phases) and approved; release 2 is held at
    Prod until the freeze is lifted; release 3 fails in Staging, is retried and succeeds."""
    assert release.main([]) == 0
    lines = _lines(capsys.readouterr().out)

    # 1 and 2: created, then release 1 runs through every stage, the build phase by phase.
    at = _index(lines, r"declaration checked locally: 0 problems")
    at = _index(lines, r"creating it started release 1", at)
    for stage in ("Source", "Build"):
        at = _index(lines, rf"\] {stage} +started", at)
    at = _index(lines, r"Build +  PROVISIONING", at)
    at = _index(lines, r"Build +  BUILD ", at)
    at = _index(lines, r"CodeBuild build SUCCEEDED in 1m31s", at)
    at = _index(lines, r"Staging +DeployStaging succeeded", at)
    # 3: the approval, what the reviewer reads, the answer; then Prod and the end of release 1.
    at = _index(lines, r"Approval +ApproveRelease is waiting for a reviewer", at)
    at = _index(lines, r"ApproveRelease asks: Check the staging stack", at)
    at = _index(lines, r"notified through SNS topic pipepilot-demo-approvals", at)
    at = _index(lines, r'Approved: "Staging smoke tests passed', at)
    at = _index(lines, r"Prod +DeployProd succeeded", at)
    at = _index(lines, r"release 1 Succeeded", at)
    # 4: the freeze holds release 2 before Prod; Prod runs only after the transition is enabled.
    at = _index(lines, r'Prod +disabled the transition into Prod: "Quarterly audit freeze', at)
    at = _index(lines, r"started release 2", at)
    held = _index(lines, r'Prod +held at the disabled transition: "Quarterly audit freeze', at)
    lifted = _index(lines, r"the freeze is over", held)
    prod = _index(lines, r"Prod +started", at)
    assert held < lifted < prod
    at = _index(lines, r"release 2 Succeeded", prod)
    # 5: the scripted failure, the retry, the approval found by wait_for_approval, the end.
    at = _index(lines, r"Staging +DeployStaging FAILED: JobFailed: Stack pipepilot-demo-staging", at)
    at = _index(lines, r"ExecutionFailed: stage Staging, action DeployStaging", at)
    at = _index(lines, r"retried the stage", at)
    at = _index(lines, r"wait_for_approval found ApproveRelease waiting", at)
    at = _index(lines, r"release 3 Succeeded", at)
    # 6: the summary reads back three successful releases, three approvals, nothing pending.
    for number, trigger in (
        (1, "CreatePipeline"),
        (2, "StartPipelineExecution"),
        (3, "StartPipelineExecution"),
    ):
        at = _index(lines, rf"release {number} +\w+ +Succeeded +started by {trigger}", at)
    at = _index(lines, r"approvals recorded: 3; still waiting: 0", at)
    at = _index(lines, r"API calls by pipepilot: \d+", at)
    _index(lines, r"Everything went as expected\.", at)


def test_the_demo_covers_minutes_of_releases_in_a_fraction_of_a_second(
    release: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Offline, the three releases take about twenty virtual minutes and well under a second of wall time
    (the figure printed is the story's, after the offline world is set up)."""
    assert release.main([]) == 0
    out = capsys.readouterr().out
    match = re.search(r"time: (\S+) of releases in ([\d.]+) s of wall time", out)
    assert match is not None, out
    virtual = _seconds(match.group(1))
    wall = float(match.group(2))
    assert 15 * 60 <= virtual <= 40 * 60
    assert wall < 5.0  # typically 0.1 to 0.3 s; generous for slow CI machines
    print(f"release.py story: {virtual} s virtual in {wall:.2f} s wall")  # shown with pytest -s


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_release_survives_a_hostile_network(
    release: Any, capsys: pytest.CaptureFixture[str], seed: int
) -> None:
    """With 30% of calls throttled and 5% of answers lost, the demo still meets every expectation:
    one execution per start, one approval per release, every release succeeded."""
    assert release.main(["--throttle", "0.3", "--lose", "0.05", "--seed", str(seed)]) == 0
    out = capsys.readouterr().out
    assert "Everything went as expected." in out
    injected = re.search(r"faults injected: \{(.*)\}", out)
    assert injected is not None, out
    assert "ThrottlingException" in injected.group(1)
    assert "lost-response" in injected.group(1)


def test_real_time_mode_follows_the_wall_clock(release: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """``--speed`` runs the same story in real time, that many times faster than life."""
    started = time.perf_counter()
    assert release.main(["--speed", "6000"]) == 0
    took = time.perf_counter() - started
    out = capsys.readouterr().out
    assert "6000x real time" in out
    match = re.search(r"time: (\S+) of releases", out)
    assert match is not None, out
    # Virtual time follows the wall clock (so slow machines see more of it): the story took real time.
    assert took >= _seconds(match.group(1)) / 6000 * 0.9


def test_a_freeze_that_does_not_hold_is_a_surprise(
    release: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the freeze does not hold release 2 (here: disabling the transition does nothing), the demo
    says what differed, still finishes the story, and exits 1."""
    monkeypatch.setattr("pipepilot.transitions.Transition.disable", lambda self, reason: None)
    assert release.main([]) == 1
    out = capsys.readouterr().out
    assert "SURPRISE: stages where release 2 was held: expected ['Prod'], got []" in out
    assert "release 3 Succeeded" in out  # the rest of the story still ran
    assert "1 surprise(s):" in out
    assert "Everything went as expected." not in out


def test_a_release_that_does_not_fail_as_scripted_exits_1(
    release: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When release 3 does not fail in Staging, it waits at the approval nobody answers until the demo's
    timeout (virtual hours, no wall time), and the demo exits 1 naming the timeout."""
    monkeypatch.setattr("pipepilot.local.OfflineAWS.script_action", lambda *args, **kwargs: None)
    assert release.main([]) == 1
    out = capsys.readouterr().out
    assert "ExecutionFailed" not in out
    assert re.search(r"- WaitTimeout: execution \S+ of pipepilot-demo: timed out", out), out


def test_an_error_from_pipepilot_is_a_surprise_too(
    release: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipepilot error (here: a freeze reason the API would refuse) ends the story with exit status 1,
    naming the error; pipepilot refuses the reason before sending anything."""
    monkeypatch.setattr(release, "FREEZE_REASON", "Freeze: no deploys, please")
    assert release.main([]) == 1
    out = capsys.readouterr().out
    assert re.search(r"- RequestValidationError: .*disable", out), out
    assert "started release 2" not in out  # nothing was started after the refusal


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--live"], "--live needs --role-arn and --artifact-bucket"),
        (["--throttle", "1.5"], "--throttle is a share of calls"),
        (["--speed", "0"], "--speed must be positive"),
        (["--live", "--role-arn", "arn", "--artifact-bucket", "b", "--speed", "2"], "offline runs only"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(
    release: Any, capsys: pytest.CaptureFixture[str], argv: list[str], complaint: str
) -> None:
    """Wrong options exit with status 2 and say why; nothing is created (no --live run ever starts here)."""
    with pytest.raises(SystemExit) as exit_info:
        release.main(argv)
    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err


# ------------------------------------------------------------------------- --live, rehearsed offline
#
# --live is never run against AWS here. Its set-up and clean-up are rehearsed inside
# pipepilot.local.offline() (sockets stay blocked), where every AWS call is answered locally; only
# CloudFormation is stubbed, because moto's needs packages pipepilot does not install.


@pytest.fixture
def rehearsal(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """An offline account ready for ``--live``: a role for the three services, a versioned bucket holding
    someone else's object, and CloudFormation stubbed (stacks never exist; deletions are recorded)."""
    stage_set = importlib.import_module("pipepilot.cli._demo_pipeline")
    deleted: list[tuple[str, ...]] = []
    monkeypatch.setattr(stage_set, "_stack_exists", lambda session, stack: False)
    monkeypatch.setattr(stage_set, "_delete_stacks", lambda session, stacks: deleted.append(stacks))
    with pipepilot.local.offline() as aws:
        role = aws.service_role("demo", "codepipeline", "codebuild", "cloudformation")
        s3 = aws.client("s3")
        s3.create_bucket(Bucket="team-bucket")
        s3.put_bucket_versioning(Bucket="team-bucket", VersioningConfiguration={"Status": "Enabled"})
        s3.put_object(Bucket="team-bucket", Key="other-team/keep.txt", Body=b"not the demo's")
        yield {"aws": aws, "role_arn": role, "deleted_stacks": deleted}


def _live_argv(rehearsal: dict[str, Any], *more: str) -> list[str]:
    return ["--live", "--role-arn", rehearsal["role_arn"], "--artifact-bucket", "team-bucket", *more]


def test_live_run_cleans_up_everything_it_created(
    release: Any, rehearsal: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """A --live run creates its pipeline, project, topic and objects, runs releases 1 and 2, then removes
    every one of them, and nothing else (another team's object in the bucket stays)."""
    aws = rehearsal["aws"]
    assert release.main(_live_argv(rehearsal, "--prefix", "pp-live")) == 0
    out = capsys.readouterr().out
    assert "release 2 Succeeded" in out
    assert "skipped (a scripted failure needs the offline engine)" in out
    assert "could NOT" not in out
    assert aws.client("codepipeline").list_pipelines()["pipelines"] == []
    assert aws.client("codebuild").list_projects()["projects"] == []
    assert aws.client("sns").list_topics()["Topics"] == []
    versions = aws.client("s3").list_object_versions(Bucket="team-bucket")
    assert [v["Key"] for v in versions.get("Versions", [])] == ["other-team/keep.txt"]
    assert not versions.get("DeleteMarkers")
    assert rehearsal["deleted_stacks"] == [("pp-live-staging", "pp-live-prod")]


def test_live_run_with_keep_leaves_everything(
    release: Any, rehearsal: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """With --keep the pipeline, project and topic stay, for a look in the console."""
    aws = rehearsal["aws"]
    assert release.main(_live_argv(rehearsal, "--prefix", "pp-keep", "--keep")) == 0
    assert "--keep: left everything named pp-keep* in place" in capsys.readouterr().out
    assert [p["name"] for p in aws.client("codepipeline").list_pipelines()["pipelines"]] == ["pp-keep"]
    assert aws.client("codebuild").list_projects()["projects"] == ["pp-keep-build"]
    assert rehearsal["deleted_stacks"] == []


def test_live_run_refuses_names_in_use_and_touches_nothing(
    release: Any, rehearsal: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """When a resource already carries one of the demo's names, --live stops before creating anything,
    so its clean-up can never delete something it did not create."""
    aws = rehearsal["aws"]
    topic = aws.client("sns").create_topic(Name="pp-taken-approvals")["TopicArn"]
    assert release.main(_live_argv(rehearsal, "--prefix", "pp-taken")) == 2
    assert "already in use: SNS topic pp-taken-approvals" in capsys.readouterr().err
    assert [t["TopicArn"] for t in aws.client("sns").list_topics()["Topics"]] == [topic]
    assert aws.client("codebuild").list_projects()["projects"] == []


def test_live_run_needs_a_versioned_bucket(
    release: Any, rehearsal: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """An unversioned bucket (S3 sources read object versions) is refused with the command that fixes it."""
    rehearsal["aws"].client("s3").create_bucket(Bucket="plain-bucket")
    argv = ["--live", "--role-arn", rehearsal["role_arn"], "--artifact-bucket", "plain-bucket"]
    assert release.main(argv) == 2
    assert "put-bucket-versioning --bucket plain-bucket" in capsys.readouterr().err


def test_the_readme_shows_what_the_demo_prints(release: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Every line of the README's demo excerpt is printed by the demo, in that order (so it cannot rot)."""
    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    excerpt = readme.split("```text\n", 1)[1].split("```", 1)[0]
    expected = [line for line in excerpt.splitlines() if line and line != "..."]
    assert release.main([]) == 0
    printed = _lines(capsys.readouterr().out)
    at = 0
    for line in expected:
        assert line in printed[at:], f"the README shows {line!r}, which the demo no longer prints there"
        at = printed.index(line, at) + 1
