"""Reading many pipelines at once (``cp.states``) on the offline engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pipepilot._calls import RetryPolicy
from pipepilot.errors import PipelineNotFoundError, ThrottlingError
from pipepilot.fleet import FleetStates, shared_limiter
from pipepilot.model.runtime import PipelineState
from pipepilot.pipelines import CodePipeline

from .offline_world import World, deploy, s3_source, shared_session, stage

if TYPE_CHECKING:
    from pipepilot.local import OfflineAWS


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


def test_by_default_reads_are_not_held_back_without_throttling(world: World) -> None:
    """With its defaults cp.states sends every read as soon as a worker is free: no virtual time passes
    between the first and the last request but a worker's own previous call (a fixed rate would spread
    them out)."""
    names = [f"p{i}" for i in range(12)]
    make(world, *names)
    stamps: list[float] = []
    world.cp.client.meta.events.register(
        "before-call.codepipeline.GetPipelineState", lambda **_: stamps.append(world.aws.clock.now())
    )
    states = world.cp.states(names)
    assert list(states) == names
    assert len(stamps) == len(names)
    # A worker's next read goes when its previous call has taken its latency (1 ms): nothing more.
    assert max(stamps) - min(stamps) <= len(names) * world.aws.call_latency
    assert shared_limiter(world.cp).rate is None


def test_against_an_account_rate_limit_no_error_reaches_the_user(world: World) -> None:
    """Against an account allowing 5 GetPipelineState a second, the defaults slow down when throttled
    and every pipeline is read."""
    names = [f"p{i}" for i in range(30)]
    make(world, *names)
    limit = world.aws.faults.add(
        service="codepipeline", operation="GetPipelineState", error="ThrottlingException", above_rate=5
    )
    states = world.cp.states(names)
    assert list(states) == names
    assert states.errors == {}
    limiter = shared_limiter(world.cp)
    assert limit.fired > 0
    assert limiter.slowdowns >= 1
    assert limiter.rate is not None


def test_under_a_random_throttle_every_pipeline_comes_back(world: World) -> None:
    """With 30% of the reads throttled at random, cp.states still returns every pipeline."""
    names = [f"p{i}" for i in range(40)]
    make(world, *names)
    world.aws.faults.add(
        service="codepipeline", operation="GetPipelineState", error="ThrottlingException", rate=0.3
    )
    states = world.cp.states(names)
    assert list(states) == names
    assert states.errors == {}


def test_a_pipeline_throttled_past_the_retry_policy_is_read_again(offline_aws: OfflineAWS) -> None:
    """A read still throttled when the retry policy gives up is tried again after the others."""
    world = World.open(offline_aws, retry=RetryPolicy(max_attempts=2))
    make(world, "a", "b")
    world.aws.faults.add(
        service="codepipeline", operation="GetPipelineState", error="ThrottlingException", nth=(1, 2)
    )
    states = world.cp.states(["a", "b"], max_workers=1)
    assert list(states) == ["a", "b"]
    assert states.errors == {}


def test_a_pipeline_throttled_in_every_round_is_reported(offline_aws: OfflineAWS) -> None:
    """When every round is throttled, the pipeline is reported with its ThrottlingError, not lost."""
    world = World.open(offline_aws, retry=RetryPolicy(max_attempts=1))
    make(world, "a")
    world.aws.faults.add(service="codepipeline", operation="GetPipelineState", error="ThrottlingException")
    states = world.cp.states(["a"])
    assert list(states) == []
    assert isinstance(states.errors["a"], ThrottlingError)


def test_fleet_operations_of_a_facade_share_one_limiter(world: World) -> None:
    """What states() learnt about the account's limit paces the same facade's next fleet operation."""
    names = [f"p{i}" for i in range(20)]
    make(world, *names)
    world.aws.faults.add(
        service="codepipeline", operation="GetPipelineState", error="ThrottlingException", above_rate=4
    )
    limiter = shared_limiter(world.cp)
    assert shared_limiter(world.cp._calls) is limiter
    world.cp.states(names)
    learnt = limiter.rate
    assert learnt is not None
    before = limiter.acquired
    world.cp.states(names[:3])
    assert limiter.acquired >= before + 3
    assert limiter.rate is not None
    other = CodePipeline(session=shared_session(), region_name=world.cp.client.meta.region_name)
    assert shared_limiter(other) is not limiter


def test_an_explicit_rate_still_caps_the_adaptive_limiter(world: World) -> None:
    """rate= caps one call even when the adaptive limiter would let everything through."""
    names = [f"p{i}" for i in range(5)]
    make(world, *names)
    stamps: list[float] = []
    world.cp.client.meta.events.register(
        "before-call.codepipeline.GetPipelineState", lambda **_: stamps.append(world.aws.clock.now())
    )
    world.cp.states(names, rate=2.0)
    assert max(stamps) - min(stamps) >= (len(names) - 1) / 2.0 - 1e-6
    assert shared_limiter(world.cp).rate is None
