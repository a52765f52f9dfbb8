"""Reading many pipelines at once (``cp.states``) on the offline engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from conftest_runtime import World, deploy, s3_source, stage

from pipepilot.errors import PipelineNotFoundError
from pipepilot.fleet import FleetStates
from pipepilot.model.runtime import PipelineState

if TYPE_CHECKING:
    from pipepilot.local import OfflineAWS


@pytest.fixture
def world(offline_aws: OfflineAWS) -> World:
    """An offline account with a role, buckets and a build project (see conftest_runtime.World)."""
    return World.open(offline_aws)


def make(world: World, *names: str, tags: dict[str, str] | None = None) -> None:
    for name in names:
        world.create(
            name,
            [
                stage("Source", s3_source()),
                stage("Prod", {**deploy("Prod"), "inputArtifacts": [{"name": "SourceOutput"}]}),
            ],
            tags=tags,
            settle=False,
        )


def test_states_reads_every_named_pipeline_in_order(world: World) -> None:
    """cp.states(names) maps each name, in the order given, to its PipelineState."""
    make(world, "a", "b", "c")
    states = world.cp.states(["c", "a", "b"], max_workers=3)
    assert isinstance(states, FleetStates)
    assert list(states) == ["c", "a", "b"]
    assert all(isinstance(state, PipelineState) for state in states.values())
    assert states["a"].pipeline_name == "a"
    assert [s.stage_name for s in states["b"]] == ["Source", "Prod"]
    assert states.errors == {}


def test_a_missing_pipeline_is_reported_not_raised(world: World) -> None:
    """A pipeline that cannot be read lands in errors; the others are still read."""
    make(world, "a")
    states = world.cp.states(["a", "ghost"])
    assert list(states) == ["a"]
    assert isinstance(states.errors["ghost"], PipelineNotFoundError)
    assert len(states) == 1


def test_states_by_pattern_and_tags(world: World) -> None:
    """Patterns and tags select pipelines the same way freezes do."""
    make(world, "web-1", "web-2", tags={"team": "web"})
    make(world, "api")
    assert list(world.cp.states("web-*")) == ["web-1", "web-2"]
    assert list(world.cp.states({"team": "web"})) == ["web-1", "web-2"]
    assert list(world.cp.states("api")) == ["api"]


def test_states_paces_requests(world: World) -> None:
    """At rate r the reads of n pipelines span at least (n - 1) / r seconds of the virtual clock."""
    names = [f"p{i}" for i in range(6)]
    make(world, *names)
    stamps: list[float] = []
    world.cp.client.meta.events.register(
        "before-call.codepipeline", lambda **_: stamps.append(world.aws.clock.now())
    )
    world.cp.states(names, max_workers=6, rate=3.0)
    assert len(stamps) == 6
    assert max(stamps) - min(stamps) >= 5 / 3.0 - 1e-6


@pytest.mark.parametrize(("workers", "rate"), [(0, 1.0), (1, 0.0)])
def test_bad_fleet_options_are_refused(world: World, workers: int, rate: float) -> None:
    """max_workers below 1 or a non-positive rate is a ValueError."""
    make(world, "a")
    with pytest.raises(ValueError):
        world.cp.states(["a"], max_workers=workers, rate=rate)
