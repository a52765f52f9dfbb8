"""How the command starts: without click, without boto3 for --help, with AWS settings missing or wrong,
and with --endpoint-url."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipepilot.cli import MISSING_CLI_EXTRA, _exits
from pipepilot.cli._app import Services
from pipepilot.cli._commands import cli

SRC = Path(__file__).resolve().parents[2] / "src"


def _python(
    code: str, tmp_path: Path, *, sitecustomize: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    paths = [str(SRC)]
    if sitecustomize is not None:
        (tmp_path / "sitecustomize.py").write_text(sitecustomize)
        paths.insert(0, str(tmp_path))
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_without_click_the_command_says_which_extra_to_install(tmp_path: Path) -> None:
    """Without click, `python -m pipepilot` prints one line naming the 'cli' extra and exits 255."""
    done = _python(
        "import runpy; runpy.run_module('pipepilot', run_name='__main__')",
        tmp_path,
        sitecustomize="import sys\nsys.modules['click'] = None\n",
    )
    assert done.returncode == 255, done.stderr
    assert done.stderr == MISSING_CLI_EXTRA + "\n"
    assert "pip install 'pipepilot[cli]'" in done.stderr


def test_importing_pipepilot_loads_neither_click_nor_rich(tmp_path: Path) -> None:
    """`import pipepilot` (and even `import pipepilot.cli`) loads no CLI library."""
    done = _python(
        "import sys, pipepilot, pipepilot.cli; print(sorted(m for m in ('click', 'rich') if m in sys.modules))",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_help_loads_no_boto3(tmp_path: Path) -> None:
    """`pipepilot --help` answers without loading boto3 or botocore (it starts fast)."""
    done = _python(
        "import sys; from pipepilot.cli import main; code = main(['--help']);"
        "print(code, 'boto3' in sys.modules, 'botocore' in sys.modules)",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "0 False False"


@pytest.fixture
def no_aws_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No region, no credentials, empty AWS config files (whatever the machine has)."""
    empty = tmp_path / "empty-aws-config"
    empty.touch()
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_aws_settings")
def test_an_unknown_profile_is_a_configuration_error() -> None:
    """--profile naming no profile: one line saying so, exit 253 (nothing sent)."""
    result = CliRunner().invoke(cli, ["--profile", "nope", "ls"])
    assert result.exit_code == _exits.CONFIGURATION
    assert "ProfileNotFoundError" in result.stderr
    assert "'nope'" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("endpoint", [[], ["--endpoint-url", "http://127.0.0.1:9"]])
def test_no_region_is_a_configuration_error(endpoint: list[str], tmp_path: Path) -> None:
    """No region anywhere (with or without an endpoint): one line saying to pass --region, exit 253;
    nothing is sent. (A fresh process: this one's default boto3 session may know a region already.)"""
    empty = tmp_path / "empty-aws-config"
    empty.touch()
    setup = f"import os; os.environ['AWS_CONFIG_FILE'] = os.environ['AWS_SHARED_CREDENTIALS_FILE'] = {str(empty)!r}\n"
    done = _python(
        f"import sys; from pipepilot.cli import main; sys.exit(main({[*endpoint, 'status', 'web']!r}))",
        tmp_path,
        sitecustomize=setup,
    )
    assert done.returncode == _exits.CONFIGURATION, done.stderr
    assert "RegionNotSetError" in done.stderr
    assert "pass --region REGION" in done.stderr
    assert done.stderr.count("\n") == 1


def test_endpoint_url_reaches_codepipeline_codebuild_and_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    """--endpoint-url sends CodePipeline, CodeBuild and CloudWatch Logs requests to that endpoint, with
    clients that make one attempt per request (pipepilot's retry policy is the only retrying layer)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    services = Services(region="eu-west-1", endpoint_url="http://127.0.0.1:4566")
    codebuild = services.codebuild()
    for client in (services.codepipeline().client, codebuild.client, codebuild.logs_client):
        assert client.meta.endpoint_url == "http://127.0.0.1:4566"
        assert client.meta.region_name == "eu-west-1"
        assert getattr(client.meta.config, "retries", {})["total_max_attempts"] == 1


def test_global_options_reach_the_services() -> None:
    """--profile/--region/--endpoint-url given on the command line are what the services are built from."""
    seen: list[Services] = []

    @cli.command("probe-services", hidden=True)
    def probe() -> None:
        import click

        state = click.get_current_context().find_object(__import__("pipepilot.cli._app").cli._app.Cli)
        assert state is not None
        seen.append(state.services)

    try:
        result = CliRunner().invoke(
            cli, ["--region", "ap-south-1", "--endpoint-url", "http://localhost:1", "probe-services"]
        )
    finally:
        cli.commands.pop("probe-services")
    assert result.exit_code == 0, result.output
    assert (seen[0].region, seen[0].endpoint_url, seen[0].profile) == (
        "ap-south-1",
        "http://localhost:1",
        None,
    )


def test_local_serve_says_when_it_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without pipepilot.local.server in this build, `local serve` says so in one line (exit 255)."""
    import pipepilot.local

    monkeypatch.setitem(sys.modules, "pipepilot.local.server", None)
    # Once imported (the served-world tests import it), the submodule is also an attribute of the package.
    monkeypatch.delattr(pipepilot.local, "server", raising=False)
    result = CliRunner().invoke(cli, ["local", "serve", "--port", "0"])
    assert result.exit_code == _exits.OTHER
    assert "not available" in result.stderr


def test_local_serve_passes_its_options_to_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """`local serve` calls pipepilot.local.server.serve with --host, --port, --speed and --region."""
    import types

    calls: list[dict[str, object]] = []
    fake = types.ModuleType("pipepilot.local.server")
    fake.serve = lambda **kwargs: calls.append(kwargs)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pipepilot.local.server", fake)
    import pipepilot.local

    monkeypatch.setattr(pipepilot.local, "server", fake, raising=False)
    result = CliRunner().invoke(
        cli, ["local", "serve", "--port", "8123", "--speed", "60", "--region", "eu-west-1"]
    )
    assert result.exit_code == 0, result.output
    assert calls == [{"host": "127.0.0.1", "port": 8123, "speed": 60.0, "region": "eu-west-1"}]


def test_an_unexpected_error_is_one_line_and_exit_255(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug (any exception that is not pipepilot's): one line, a hint about -v, exit 255."""

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something broke")

    monkeypatch.setattr(Services, "codepipeline", broken)
    result = CliRunner().invoke(cli, ["--region", "us-east-1", "status", "web"])
    assert result.exit_code == _exits.OTHER
    assert result.stderr.splitlines() == [
        "pipepilot: RuntimeError: something broke",
        "pipepilot: run again with -v for the traceback",
    ]


def test_the_demo_runs_through_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    """`pipepilot demo` runs the offline release; bad demo options exit 252."""
    from pipepilot.cli import main

    assert main(["demo", "--speed", "0"]) == _exits.BAD_PARAMETER
    assert "--speed must be positive" in capsys.readouterr().err
