"""Fixtures of the conformance suite: one fresh offline world per test, plain boto3 clients inside it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import pipepilot.local

from ._support import REGION, Env

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pipepilot.local import OfflineAWS


@pytest.fixture
def aws() -> Iterator[OfflineAWS]:
    """A fresh offline AWS (moto + the engines) on a virtual clock, seeded for reproducible ids."""
    with pipepilot.local.offline(region=REGION, seed=0) as world:
        yield world


@pytest.fixture
def env(aws: OfflineAWS) -> Env:
    """Clients, a pipeline role trusting CodePipeline, the artifact bucket and a CodeBuild project."""
    return Env.open(aws)
