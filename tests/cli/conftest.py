"""Fixtures of the command-line tests: an offline world, and a runner of ``pipepilot`` commands in it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner, Result

from pipepilot.cli._app import Services
from pipepilot.cli._commands import cli

from ..library.functional.offline_world import World, deploy, s3_source, stage

if TYPE_CHECKING:
    from collections.abc import Callable

    from pipepilot.local import OfflineAWS


@pytest.fixture
def world(offline_aws: OfflineAWS) -> World:
    """An offline account with a role, buckets and a build project (see ``offline_world.World``)."""
    return World.open(offline_aws)


@pytest.fixture
def pipepilot(world: World) -> Callable[..., Result]:
    """Run ``pipepilot ARGS...`` in-process against the offline world; returns click's ``Result``.

    stdout and stderr are kept apart (``result.stdout``, ``result.stderr``); ``color=True`` lets a test
    see the colours a terminal would.
    """

    def invoke(*args: str, color: bool = False, env: dict[str, Any] | None = None) -> Result:
        runner = CliRunner()
        services = Services(codepipeline=world.cp)
        return runner.invoke(cli, list(args), obj=services, color=color, env=env, catch_exceptions=False)

    return invoke


def quick_stages() -> list[dict[str, Any]]:
    """Source -> Build (CodeBuild) -> Deploy: no approval, so an execution runs to its end by itself."""
    from ..library.functional.offline_world import codebuild

    return [
        stage("Source", s3_source()),
        stage("Build", codebuild()),
        stage("Deploy", deploy("DeployApp")),
    ]
