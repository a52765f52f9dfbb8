"""The admin endpoint of a served world (``/_pipepilot/...``): JSON in and out, bad input refused."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

import pipepilot.local
from pipepilot.local.server import LocalServer
from tests.engine.serve._world import BUILD_PROJECT, PIPELINE, PROJECT, admin, client, release_pipeline

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

START = 1_767_225_600.0  # the world's default start, 2026-01-01T00:00:00Z


def test_info_names_the_world_and_its_clock(server: LocalServer) -> None:
    """``GET /_pipepilot/info`` (and ``/health``) answer the region, account, seed, speed, the virtual now
    (epoch seconds and ISO 8601), the timers pending and the requests answered."""
    status, info = admin(server.url, "info")
    assert status == 200
    assert {key: info[key] for key in ("status", "service", "region", "account_id", "seed", "speed")} == {
        "status": "ok",
        "service": "pipepilot.local",
        "region": "us-east-1",
        "account_id": "123456789012",
        "seed": 3,
        "speed": 0.0,
    }
    assert (info["now"], info["now_iso"], info["pending_timers"], info["next_due"]) == (
        START,
        "2026-01-01T00:00:00.000Z",
        0,
        None,
    )
    assert admin(server.url, "health")[1]["requests"] == info["requests"] + 1


def test_a_real_time_world_starts_at_the_present(no_proxy: None) -> None:
    """At a speed the served world's clock starts at the present (at speed 1 it reads as the machine's);
    a manual clock starts where offline() does (the ``server`` fixture's, above)."""
    import time

    before = time.time()
    with LocalServer(port=0, speed=1) as served:
        now = admin(served.url, "info")[1]["now"]
    assert before - 1 <= now <= time.time() + 1


def test_the_admin_root_lists_every_endpoint(server: LocalServer) -> None:
    """``GET /_pipepilot`` lists every admin endpoint with its method."""
    status, index = admin(server.url, "")
    assert status == 200
    assert "POST /_pipepilot/clock/advance" in index["endpoints"]
    assert "GET /_pipepilot" in index["endpoints"]
    assert len(index["endpoints"]) == 19


def test_the_clock_advances_by_seconds_or_to_a_moment(server: LocalServer) -> None:
    """``POST /_pipepilot/clock/advance`` moves the clock by ``seconds`` or ``to`` a moment (epoch seconds or
    ISO 8601 with a zone), never back; ``run-until-idle`` runs every timer."""
    assert admin(server.url, "clock/advance", {"seconds": 90})[1]["now"] == START + 90
    assert admin(server.url, "clock/advance", {"to": "2026-01-01T01:00:00Z"})[1]["now"] == START + 3600
    assert (
        admin(server.url, "clock/advance", {"to": START + 7200})[1]["now_iso"] == "2026-01-01T02:00:00.000Z"
    )
    for body in (
        {"seconds": -1},
        {"to": START},
        {},
        {"seconds": 1, "to": START},
        {"seconds": "soon"},
        {"to": "noon"},
        {"to": "2026-01-01T00:00:00"},
    ):
        status, answer = admin(server.url, "clock/advance", body)
        assert (status, answer["error"]) == (400, "InvalidArgument"), body
    assert server.aws.clock.now() == START + 7200  # refused requests changed nothing
    server.aws.verify_roles = False
    codepipeline = client("codepipeline", server.url)
    client("codebuild", server.url).create_project(**BUILD_PROJECT)
    client("s3", server.url).create_bucket(Bucket="shop-artifacts")
    codepipeline.create_pipeline(pipeline=release_pipeline())
    status, clock = admin(server.url, "clock/run-until-idle", {"limit": 3600})
    assert status == 200
    assert clock["pending_timers"] == 1  # the approval waits for its answer (or its 7-day expiry)
    status, clock = admin(server.url, "clock/run-until-idle", {})
    assert clock["pending_timers"] == 0
    (execution,) = codepipeline.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"]
    assert execution["status"] == "Failed"  # the approval expired


def test_faults_are_listed_with_their_counters_and_refused_when_malformed(server: LocalServer) -> None:
    """``GET /_pipepilot/faults`` lists the rules (live counters) and the log of injected faults; a rule
    ``aws.faults.add`` would refuse, or an unknown field, answers 400 and adds nothing."""
    admin(server.url, "faults", {"service": "codebuild", "error": "InternalFailure", "nth": 1})
    with pytest.raises(ClientError):
        client("codebuild", server.url).list_projects()
    status, faults = admin(server.url, "faults")
    assert status == 200
    (rule,) = faults["rules"]
    assert (rule["error"], rule["status"], rule["nth"], rule["calls"], rule["fired"]) == (
        "InternalFailure",
        500,
        [1],
        1,
        1,
    )
    (injected,) = faults["log"]
    assert (injected["service"], injected["operation"], injected["error"]) == (
        "codebuild",
        "ListProjects",
        "InternalFailure",
    )
    for body in (
        {"error": "ThrottlingException", "rate": 2},
        {"latency": 0},
        {"error": "Throttling", "colour": "red"},
    ):
        status, answer = admin(server.url, "faults", body)
        assert (status, answer["error"]) == (400, "InvalidArgument"), body
    assert len(admin(server.url, "faults")[1]["rules"]) == 1


def test_scripts_set_how_actions_builds_and_rules_end(server: LocalServer) -> None:
    """``POST /_pipepilot/scripts/{action,build,rule}`` take ``aws.script_*``'s arguments and answer the
    script; a scripted failure shows in the execution; bad scripts answer 400."""
    status, answer = admin(
        server.url,
        "scripts/action",
        {
            "pipeline": PIPELINE,
            "stage": "Source",
            "action": "Source",
            "outcome": "Failed",
            "error_message": "no such object",
            "times": 1,
        },
    )
    assert status == 200
    assert answer["script"]["outcome"] == "Failed"
    assert admin(
        server.url,
        "scripts/build",
        {"project": PROJECT, "fail_in": "INSTALL", "phase_durations": {"INSTALL": 5}},
    )[1]["script"]["phase_durations"] == {"INSTALL": 5}
    assert (
        admin(server.url, "scripts/rule", {"pipeline": PIPELINE, "stage": "Deploy", "rule": "Alarm"})[0]
        == 200
    )
    for path, body in (
        ("scripts/action", {"pipeline": PIPELINE, "stage": "Source"}),
        ("scripts/action", {"pipeline": PIPELINE, "stage": "Source", "action": "Source", "outcome": "Maybe"}),
        ("scripts/build", {"project": PROJECT, "fail_in": "LUNCH"}),
        ("scripts/build", {"project": PROJECT, "log_lines": "one string"}),
        ("scripts/rule", {"pipeline": PIPELINE, "stage": "Deploy", "rule": "Alarm", "times": 0}),
    ):
        status, answer = admin(server.url, path, body)
        assert (status, answer["error"]) == (400, "InvalidArgument"), body
    server.aws.verify_roles = False
    client("s3", server.url).create_bucket(Bucket="shop-artifacts")
    codepipeline = client("codepipeline", server.url)
    codepipeline.create_pipeline(pipeline=release_pipeline())
    admin(server.url, "clock/advance", {"seconds": 60})
    state = codepipeline.get_pipeline_state(name=PIPELINE)
    source = state["stageStates"][0]["actionStates"][0]["latestExecution"]
    assert (source["status"], source["errorDetails"]["message"]) == ("Failed", "no such object")


def test_a_trivial_lambda_function_fails_invoke_actions_when_told(server: LocalServer) -> None:
    """``POST /_pipepilot/lambdas`` with ``outcome: "Failed"`` registers a function that fails every job with
    ``message``; registering a name again replaces it; bad functions answer 400."""
    assert (
        admin(server.url, "lambdas", {"name": "deploy", "outcome": "Failed", "message": "smoke test failed"})[
            0
        ]
        == 200
    )
    for body in (
        {"outcome": "Failed"},
        {"name": "x", "outcome": "Maybe"},
        {"name": "x", "output_variables": {"a": 1}},
        {"name": "x", "summary": 3},
    ):
        status, answer = admin(server.url, "lambdas", body)
        assert (status, answer["error"]) == (400, "InvalidArgument"), body
    server.aws.verify_roles = False
    server.aws.script_action(PIPELINE, "Approve", "Approve", duration=1)
    client("s3", server.url).create_bucket(Bucket="shop-artifacts")
    client("codebuild", server.url).create_project(**BUILD_PROJECT)
    codepipeline = client("codepipeline", server.url)
    codepipeline.create_pipeline(pipeline=release_pipeline())
    admin(server.url, "clock/advance", {"seconds": 600})
    deploy = codepipeline.get_pipeline_state(name=PIPELINE)["stageStates"][3]["actionStates"][0][
        "latestExecution"
    ]
    assert (deploy["status"], deploy["errorDetails"]["message"]) == ("Failed", "smoke test failed")
    assert admin(server.url, "lambdas")[1] == {
        "functions": [{"name": "deploy", "outcome": "Failed", "invocations": 1}]
    }


def test_revisions_events_and_settings(server: LocalServer) -> None:
    """``POST /_pipepilot/revisions`` pushes a source revision (answering the execution it started),
    ``GET /_pipepilot/events?since=N`` pages through the EventBridge events, and ``/settings`` reads and
    switches ``verify_roles`` and ``max_concurrent_builds``; an unknown pipeline answers 404."""
    assert admin(server.url, "settings")[1] == {"verify_roles": True, "max_concurrent_builds": None}
    assert admin(server.url, "settings", {"verify_roles": False, "max_concurrent_builds": 2})[1] == {
        "verify_roles": False,
        "max_concurrent_builds": 2,
    }
    for body in (
        {"verify_roles": "no"},
        {"max_concurrent_builds": -1},
        {"max_concurrent_builds": True},
        {"region": "x"},
    ):
        assert admin(server.url, "settings", body)[0] == 400, body
    client("s3", server.url).create_bucket(Bucket="shop-artifacts")
    codepipeline = client("codepipeline", server.url)
    codepipeline.create_pipeline(pipeline=release_pipeline())
    status, pushed = admin(server.url, "revisions", {"pipeline": PIPELINE, "revision_id": "v2"})
    assert status == 200
    assert pushed["pipeline_execution_id"] in {
        summary["pipelineExecutionId"]
        for summary in codepipeline.list_pipeline_executions(pipelineName=PIPELINE)[
            "pipelineExecutionSummaries"
        ]
    }
    assert admin(server.url, "revisions", {"pipeline": "nope"})[0] == 404
    admin(server.url, "clock/advance", {"seconds": 60})
    status, first = admin(server.url, "events")
    assert status == 200
    assert first["next"] == len(first["events"]) > 0
    assert first["events"][0]["source"] == "aws.codepipeline"
    admin(server.url, "clock/advance", {"seconds": 60})
    later = admin(server.url, f"events?since={first['next']}")[1]
    assert later["events"] == admin(server.url, "events")[1]["events"][first["next"] :]
    assert admin(server.url, "events?since=-1")[0] == 400
    assert admin(server.url, "events?since=many")[0] == 400


def test_unknown_paths_methods_and_bodies_are_refused(server: LocalServer) -> None:
    """An unknown admin path answers 404, a known one with another method 405, a body that is not a JSON
    object 400; none changes anything."""
    assert admin(server.url, "teleport", {})[1]["error"] == "NotFound"
    assert admin(server.url, "teleport", {})[0] == 404
    assert admin(server.url, "clock/advance")[0] == 405
    assert admin(server.url, "info", method="DELETE")[0] == 405
    assert admin(server.url, "clock/run-until-idle", {"verbose": True})[0] == 400
    for raw in (b"{", b"[1, 2]"):
        request = urllib.request.Request(f"{server.url}/_pipepilot/clock/advance", data=raw, method="POST")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with pytest.raises(urllib.error.HTTPError) as raised:
            opener.open(request, timeout=30)
        with raised.value:
            assert raised.value.code == 400
    assert server.aws.clock.now() == START


def test_reset_replaces_the_world_and_keeps_serving(server: LocalServer) -> None:
    """``POST /_pipepilot/reset`` replaces the world by a fresh one (no buckets, no pipelines, faults and
    scripts gone, the clock at its start; ``seed`` if given), on the same port, kept-alive clients
    included; bad seeds answer 400 and change nothing."""
    s3, codepipeline = client("s3", server.url), client("codepipeline", server.url)
    s3.create_bucket(Bucket="before")
    admin(server.url, "faults", {"service": "codebuild", "error": "InternalFailure"})
    admin(server.url, "clock/advance", {"seconds": 3600})
    old = server.aws
    assert admin(server.url, "reset", {"seed": "x"})[0] == 400
    assert admin(server.url, "reset", {"colour": 1})[0] == 400
    assert server.aws is old
    status, info = admin(server.url, "reset", {"seed": 11})
    assert status == 200
    assert (info["seed"], info["now"], info["pending_timers"]) == (11, START, 0)
    assert server.aws is not old
    assert s3.list_buckets()["Buckets"] == []
    assert codepipeline.list_pipelines()["pipelines"] == []
    assert admin(server.url, "faults")[1] == {"rules": [], "log": []}
    client("codebuild", server.url).list_projects()  # the old world's fault is gone
    assert admin(server.url, "reset", {})[1]["seed"] == 11  # the seed stays unless given


def test_requests_during_a_reset_wait_for_the_new_world(server: LocalServer) -> None:
    """Requests sent while the world is being replaced are answered by the new world, none fails."""
    errors: list[BaseException] = []
    stop = threading.Event()

    def calls() -> None:
        codepipeline = client("codepipeline", server.url)
        try:
            while not stop.is_set():
                codepipeline.list_pipelines()
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    workers = [threading.Thread(target=calls) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        for seed in range(5):
            server.reset(seed=seed)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert errors == []
    assert admin(server.url, "info")[1]["seed"] == 4


def test_a_server_cannot_reset_a_world_it_did_not_start() -> None:
    """Serving a world started elsewhere, ``reset`` refuses (409 over HTTP, RuntimeError in Python); a
    seed of the wrong type is a TypeError."""
    with pipepilot.local.offline() as aws, LocalServer(port=0, aws=aws) as served:
        status, answer = admin(served.url, "reset", {})
        assert (status, answer["error"]) == (409, "Conflict")
        with pytest.raises(RuntimeError, match="did not start"):
            served.reset()
    with LocalServer(port=0, speed=0) as own, pytest.raises(TypeError):
        own.reset(seed="1")  # type: ignore[arg-type]
