"""How long the offline CodePipeline engine keeps a pipeline's history, and what a finished execution keeps.

The engine forgets the oldest completed executions beyond ``execution_history_limit`` per pipeline and those
that started more than ``execution_history_seconds`` ago; what it keeps answers every read API as before.
"""

from __future__ import annotations

from typing import Any

import pytest

from pipepilot.local import CodePipelineSettings
from pipepilot.local._world import World

from .test_engine_codepipeline import Harness, Script, deploy_stage, pipeline, source_stage

RUN = 600.0  # a source (5 s) and a CodeDeploy deployment (100 s) end well within it


def _two_stage(h: Harness, name: str = "p") -> str:
    first = h.create(pipeline(name, source_stage(), deploy_stage()))
    h.advance(RUN)
    return first


def _run(h: Harness, count: int, name: str = "p") -> list[str]:
    ids = []
    for _ in range(count):
        ids.append(h.start(name))
        h.advance(RUN)
    return ids


def _reads(h: Harness, execution_id: str) -> tuple[Any, ...]:
    """Everything the read APIs answer about one execution."""
    found = h.call("GetPipelineExecution", pipelineName="p", pipelineExecutionId=execution_id)
    summary = [e for e in h.executions("p") if e["pipelineExecutionId"] == execution_id]
    return found, summary, h.action_runs("p", execution_id)


def test_oldest_completed_executions_beyond_the_count_are_forgotten() -> None:
    """Beyond execution_history_limit, the oldest completed executions answer as unknown ids do."""
    h = Harness(execution_history_limit=3)
    first = _two_stage(h)
    ids = [first, *_run(h, 5)]
    listed = [e["pipelineExecutionId"] for e in h.executions("p")]
    assert listed == ids[::-1][:3]
    for forgotten in ids[:3]:
        err = h.error("GetPipelineExecution", pipelineName="p", pipelineExecutionId=forgotten)
        assert err.code == "PipelineExecutionNotFoundException"
        assert h.error(
            "ListActionExecutions", pipelineName="p", filter={"pipelineExecutionId": forgotten}
        ).code == ("PipelineExecutionNotFoundException")
    assert {run["pipelineExecutionId"] for run in h.action_runs("p")} == set(ids[3:])


def test_kept_executions_answer_the_read_apis_as_before() -> None:
    """A kept execution reads the same after later executions completed and older ones were forgotten."""
    h = Harness(execution_history_limit=3)
    _two_stage(h)
    kept = _run(h, 1)[0]
    before = _reads(h, kept)
    _run(h, 2)  # the first two are forgotten; `kept` is now the oldest kept and no stage's latest
    assert _reads(h, kept) == before


def test_executions_older_than_the_age_limit_are_forgotten() -> None:
    """A completed execution that started more than execution_history_seconds ago is forgotten."""
    h = Harness(execution_history_seconds=3600.0)
    old = _two_stage(h)
    h.advance(4000.0)
    recent = _run(h, 1)[0]
    assert [e["pipelineExecutionId"] for e in h.executions("p")] == [recent]
    err = h.error("GetPipelineExecution", pipelineName="p", pipelineExecutionId=old)
    assert err.code == "PipelineExecutionNotFoundException"


def test_executions_the_pipeline_state_shows_are_kept_whatever_their_age() -> None:
    """A failed execution still shown as a stage's latest stays readable and retryable past retention."""
    h = Harness(execution_history_limit=1, execution_history_seconds=60.0)
    h.create(pipeline("p", source_stage(), deploy_stage()))
    h.advance(RUN)
    failing = h.start("p")
    h.world.scripts.add("p", "Deploy", "Ship", Script(outcome="Failed"), times=1)
    h.advance(RUN)
    h.call(
        "DisableStageTransition", pipelineName="p", stageName="Deploy", transitionType="Inbound", reason="x"
    )
    _run(h, 3)  # they wait in front of Deploy (and supersede each other); Deploy's latest is `failing`
    h.advance(10 * RUN)
    assert h.status("p", failing) == "Failed"
    assert h.stage_state("p", "Deploy")["latestExecution"]["pipelineExecutionId"] == failing
    h.call(
        "RetryStageExecution",
        pipelineName="p",
        stageName="Deploy",
        pipelineExecutionId=failing,
        retryMode="FAILED_ACTIONS",
    )
    h.advance(RUN)
    assert h.status("p", failing) == "Succeeded"


def test_page_tokens_survive_a_clean_up_between_pages() -> None:
    """ListPipelineExecutions pages neither repeat nor skip kept executions when a clean-up runs between."""
    h = Harness(execution_history_limit=4)
    _two_stage(h)
    _run(h, 3)
    page = h.call("ListPipelineExecutions", pipelineName="p", maxResults=2)
    newest = [e["pipelineExecutionId"] for e in page["pipelineExecutionSummaries"]]
    _run(h, 1)  # forgets the oldest
    rest = h.call("ListPipelineExecutions", pipelineName="p", maxResults=5, nextToken=page["nextToken"])
    listed = [e["pipelineExecutionId"] for e in rest["pipelineExecutionSummaries"]]
    assert not set(listed) & set(newest)
    assert len(listed) == 1  # of the two older ones, the clean-up forgot one
    assert "nextToken" not in rest


def test_client_request_tokens_go_with_their_execution() -> None:
    """A clientRequestToken of a forgotten execution starts a new execution."""
    h = Harness(execution_history_limit=1)
    _two_stage(h)
    first = h.start("p", clientRequestToken="release-1")
    h.advance(RUN)
    assert h.start("p", clientRequestToken="release-1") == first
    _run(h, 2)
    assert h.start("p", clientRequestToken="release-1") != first


def test_the_event_log_keeps_the_newest_events() -> None:
    """aws.events keeps the newest event_history_limit events (give or take 1%), oldest dropped first."""
    world = World(codepipeline_settings=CodePipelineSettings(event_history_limit=5))
    for number in range(20):
        world.put_event({"detail-type": "test", "source": "test", "detail": {"n": number}})
    assert [event["detail"]["n"] for event in world.events][-5:] == [15, 16, 17, 18, 19]
    assert len(world.events) <= 6


@pytest.mark.parametrize(
    "setting",
    [{"execution_history_limit": 0}, {"execution_history_seconds": -1.0}, {"event_history_limit": -1}],
)
def test_retention_settings_refuse_impossible_values(setting: dict[str, Any]) -> None:
    """A retention of no execution, a negative age or a negative event count is refused when made."""
    with pytest.raises(ValueError, match="must be >="):
        CodePipelineSettings(**setting)


def test_a_finished_execution_shares_its_unresolved_configuration() -> None:
    """An action run whose configuration has no variables keeps no copy of it."""
    h = Harness()
    first = _two_stage(h)
    record = h.engine._pipelines["p"]
    runs = record.executions[first].action_runs
    assert all(run.resolved_configuration is run.action.configuration for run in runs)
