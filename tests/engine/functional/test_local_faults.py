"""Fault plans: seeded, reproducible errors, dropped connections, latency and lost responses."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

import pipepilot.local
from pipepilot.local.faults import FaultPlan

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_codebuild import CodeBuildClient
    from mypy_boto3_s3 import S3Client

    from pipepilot.local import OfflineAWS

_NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture
def aws() -> Iterator[OfflineAWS]:
    """An offline world with one CodeBuild project, ``app``."""
    with pipepilot.local.offline(seed=5) as aws:
        aws.verify_roles = False
        aws.client("codebuild").create_project(
            name="app",
            source={"type": "NO_SOURCE", "buildspec": "version: 0.2"},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={"type": "LINUX_CONTAINER", "image": "img", "computeType": "BUILD_GENERAL1_SMALL"},
            serviceRole="arn:aws:iam::123456789012:role/cb",
        )
        yield aws


@pytest.fixture
def cb(aws: OfflineAWS) -> CodeBuildClient:
    """A CodeBuild client that does not retry, so each call is one attempt."""
    client: CodeBuildClient = _client(aws, "codebuild")
    return client


def _client(aws: OfflineAWS, service: str, config: Config = _NO_RETRIES) -> Any:
    return aws.client(service, config=config)


def _builds(aws: OfflineAWS) -> int:
    return len(aws.client("codebuild").list_builds()["ids"])


# -- kinds of fault -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        ("ThrottlingException", "ThrottlingException", 400),
        ("ServiceUnavailable", "ServiceUnavailableException", 503),
        ("InternalFailure", "InternalFailure", 500),
        ("ConcurrentModificationException", "ConcurrentModificationException", 400),
    ],
)
def test_error_faults_answer_the_error_and_apply_nothing(
    aws: OfflineAWS, cb: CodeBuildClient, error: str, code: str, status: int
) -> None:
    """An error fault answers AWS's envelope with the right status; the call never reaches the engine."""
    aws.faults.add(service="codebuild", operation="StartBuild", error=error)
    with pytest.raises(ClientError) as caught:
        cb.start_build(projectName="app")
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert _builds(aws) == 0


def test_throttling_says_rate_exceeded(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """Throttling reads as AWS writes it."""
    aws.faults.add(operation="ListBuilds", error="ThrottlingException")
    with pytest.raises(ClientError, match="Rate exceeded"):
        cb.list_builds()


def test_connection_fault_drops_the_call_before_it_arrives(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """error='connection' raises botocore's EndpointConnectionError and applies nothing."""
    aws.faults.add(operation="StartBuild", error="connection")
    with pytest.raises(EndpointConnectionError):
        cb.start_build(projectName="app")
    assert _builds(aws) == 0


def test_lost_response_applies_the_call_but_never_answers(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """error='lost-response' commits the build, then the caller sees only a closed connection."""
    aws.faults.add(operation="StartBuild", error="lost-response")
    with pytest.raises(ConnectionClosedError):
        cb.start_build(projectName="app")
    assert _builds(aws) == 1


@pytest.mark.parametrize(("error", "status"), [("InternalFailure", 500), ("ServiceUnavailable", 503)])
def test_an_error_after_the_fact_applies_the_call_then_answers_the_error(
    aws: OfflineAWS, cb: CodeBuildClient, error: str, status: int
) -> None:
    """error=... with applied=True commits the build, then the caller sees the 5xx (on engines and moto)."""
    aws.faults.add(operation="StartBuild", error=error, applied=True, times=1)
    with pytest.raises(ClientError) as caught:
        cb.start_build(projectName="app")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert _builds(aws) == 1
    s3: S3Client = _client(aws, "s3")
    s3.create_bucket(Bucket="bucket")
    aws.faults.add(service="s3", operation="PutObject", error=error, applied=True, times=1)
    with pytest.raises(ClientError):
        s3.put_object(Bucket="bucket", Key="k", Body=b"1")
    assert [item["Key"] for item in s3.list_objects_v2(Bucket="bucket")["Contents"]] == ["k"]


def test_lost_response_with_retries_duplicates_unless_idempotent(aws: OfflineAWS) -> None:
    """botocore retries a lost response: two builds without a token, one build with an idempotencyToken."""
    retrying = _client(aws, "codebuild", Config(retries={"mode": "standard", "total_max_attempts": 3}))
    aws.faults.add(operation="StartBuild", error="lost-response", nth=(1, 3))
    retrying.start_build(projectName="app")
    assert _builds(aws) == 2
    answer = retrying.start_build(projectName="app", idempotencyToken="once")
    assert _builds(aws) == 3
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1


def test_lost_response_on_a_moto_service_is_applied_by_moto(aws: OfflineAWS) -> None:
    """Faults reach services moto answers: S3 errors apply nothing, a lost PutObject is stored anyway."""
    s3: S3Client = _client(aws, "s3")
    s3.create_bucket(Bucket="bucket")
    aws.faults.add(service="s3", operation="PutObject", error="InternalFailure", nth=1)
    aws.faults.add(service="s3", operation="PutObject", error="lost-response", nth=2)
    with pytest.raises(ClientError):
        s3.put_object(Bucket="bucket", Key="first", Body=b"1")
    with pytest.raises(ConnectionClosedError):
        s3.put_object(Bucket="bucket", Key="second", Body=b"2")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket="bucket").get("Contents", [])]
    assert keys == ["second"]


def test_wall_latency_delays_the_call_in_real_time(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """latency= (wall clock by default) delays the answer without touching virtual time."""
    aws.faults.add(operation="ListBuilds", latency=0.05)
    virtual, wall = aws.clock.now(), time.monotonic()
    assert cb.list_builds()["ids"] == []
    assert time.monotonic() - wall >= 0.05
    assert aws.clock.now() == round(virtual + aws.call_latency, 6)  # the call's own latency only


def test_virtual_latency_advances_the_clock(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """latency_clock='virtual' lets virtual time pass instead (builds progress meanwhile)."""
    build_id = cb.start_build(projectName="app")["build"]["id"]
    aws.faults.add(operation="BatchGetBuilds", latency=600, latency_clock="virtual")
    virtual, wall = aws.clock.now(), time.monotonic()
    build = cb.batch_get_builds(ids=[build_id])["builds"][0]
    assert aws.clock.now() == round(virtual + 600 + aws.call_latency, 6)
    assert time.monotonic() - wall < 1
    assert build["buildComplete"] is True


def test_a_latency_rule_delays_a_call_that_a_later_rule_fails(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """A latency-only rule does not decide the call: the rules after it still apply (a slow throttle)."""
    aws.faults.add(operation="ListBuilds", latency=30, latency_clock="virtual")
    aws.faults.add(operation="ListBuilds", latency=0.02)
    throttle = aws.faults.add(operation="ListBuilds", error="ThrottlingException")
    virtual, wall = aws.clock.now(), time.monotonic()
    with pytest.raises(ClientError) as raised:
        cb.list_builds()
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert aws.clock.now() == virtual + 30
    assert time.monotonic() - wall >= 0.02
    assert throttle.fired == 1
    assert [fault.rule for fault in aws.faults.log] == [0, 1, 2]


# -- when faults fire ---------------------------------------------------------------------------------------


def test_nth_counts_selected_calls_from_one(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """nth=(2, 3) fails exactly the second and third selected calls; other operations are not counted."""
    rule = aws.faults.add(operation="ListBuilds", error="ThrottlingException", nth=(2, 3))
    outcomes = []
    for _ in range(5):
        cb.list_projects()
        try:
            cb.list_builds()
            outcomes.append("ok")
        except ClientError:
            outcomes.append("throttled")
    assert outcomes == ["ok", "throttled", "throttled", "ok", "ok"]
    assert (rule.calls, rule.fired) == (5, 2)
    assert [(fault.call, fault.operation) for fault in aws.faults.log] == [
        (2, "ListBuilds"),
        (3, "ListBuilds"),
    ]


def test_times_caps_a_rule(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """times=2 stops a rule after two faults."""
    aws.faults.add(operation="ListBuilds", error="ThrottlingException", times=2)
    failures = 0
    for _ in range(4):
        try:
            cb.list_builds()
        except ClientError:
            failures += 1
    assert failures == 2


def test_operation_sets_and_services_select_calls(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """A rule selects by service and by one or several operations; others pass untouched."""
    aws.faults.add(service="codepipeline", error="ThrottlingException")
    aws.faults.add(service="codebuild", operation=["ListBuilds", "ListProjects"], error="InternalFailure")
    cb.start_build(projectName="app")
    with pytest.raises(ClientError):
        cb.list_projects()
    with pytest.raises(ClientError):
        cb.list_builds()
    assert {fault.operation for fault in aws.faults.log} == {"ListBuilds", "ListProjects"}


def test_first_firing_rule_decides(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """When two rules fire on a call, the earlier one decides; both count the call."""
    first = aws.faults.add(operation="ListBuilds", error="InternalFailure", nth=1)
    second = aws.faults.add(operation="ListBuilds", error="ThrottlingException")
    with pytest.raises(ClientError) as caught:
        cb.list_builds()
    assert caught.value.response["Error"]["Code"] == "InternalFailure"
    assert (first.calls, second.calls, second.fired) == (1, 1, 0)
    aws.faults.clear()
    assert cb.list_builds()["ids"] == []


def _pattern(seed: int, calls: int = 200) -> list[int]:
    plan = FaultPlan(seed=seed)
    plan.add(operation="StartBuild", error="ThrottlingException", rate=0.3)
    for _ in range(calls):
        plan.decide("codebuild", "StartBuild", now=0.0)
    return [fault.call for fault in plan.log]


def test_rate_is_reproducible_per_seed() -> None:
    """The same seed throttles the same calls; another seed throttles others; the share is about ``rate``."""
    first, again, other = _pattern(1), _pattern(1), _pattern(2)
    assert first == again
    assert first != other
    assert 40 <= len(first) <= 80


def test_rate_through_real_clients_is_reproducible() -> None:
    """End to end: two contexts with the same seed see the same faulted calls."""
    runs = []
    for _ in range(2):
        with pipepilot.local.offline(seed=11) as aws:
            client = _client(aws, "codebuild")
            aws.faults.add(operation="ListProjects", error="ThrottlingException", rate=0.5)
            outcome = []
            for _ in range(20):
                try:
                    client.list_projects()
                    outcome.append(True)
                except ClientError:
                    outcome.append(False)
            runs.append(outcome)
    assert runs[0] == runs[1]
    assert not all(runs[0])
    assert any(runs[0])


def test_rules_draw_even_when_another_rule_decides() -> None:
    """Adding a rule ahead of a rated one does not shift which calls the rated rule picks."""
    alone = _pattern(3)
    plan = FaultPlan(seed=3)
    plan.add(operation="StartBuild", error="InternalFailure", nth=(1,))
    plan.add(operation="StartBuild", error="ThrottlingException", rate=0.3)
    for _ in range(200):
        plan.decide("codebuild", "StartBuild", now=0.0)
    rated = [fault.call for fault in plan.log if fault.rule == 1]
    assert rated == [call for call in alone if call != 1]


def test_log_records_every_injected_fault(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """Each injected fault is logged with its rule, call number, operation, kind and virtual time."""
    aws.clock.advance(10)
    aws.faults.add(operation="ListBuilds", error="connection", nth=1)
    with pytest.raises(EndpointConnectionError):
        cb.list_builds()
    [fault] = aws.faults.log
    assert (fault.rule, fault.call, fault.service, fault.operation, fault.error) == (
        0,
        1,
        "codebuild",
        "ListBuilds",
        "connection",
    )
    assert fault.at == aws.clock.now()


@pytest.mark.parametrize(
    "options",
    [
        {"error": "ThrottlingException", "rate": 1.5},
        {"error": "ThrottlingException", "rate": 0.5, "nth": 1},
        {"error": "ThrottlingException", "nth": 0},
        {"error": "ThrottlingException", "times": 0},
        {"latency": -1},
        {},
        {"latency": 1, "latency_clock": "sundial"},
        {"error": "ThrottlingException", "above_rate": 0},
        {"error": "ThrottlingException", "above_rate": 5, "rate": 0.5},
        {"error": "ThrottlingException", "above_rate": 5, "burst": 0.5},
        {"error": "ThrottlingException", "burst": 5},
        {"latency": 1, "above_rate": 5},
        {"error": "lost-response", "applied": True},
        {"latency": 1, "applied": True},
    ],
)
def test_impossible_rules_are_refused(options: dict[str, Any]) -> None:
    """A rule that could never work, or says two contradictory things, is a ValueError."""
    with pytest.raises(ValueError):
        FaultPlan().add(**options)


# -- account rate limits ------------------------------------------------------------------------------------


def _outcomes(cb: CodeBuildClient, calls: int) -> str:
    """'.' for each call answered, 'T' for each throttled."""
    text = ""
    for _ in range(calls):
        try:
            cb.list_builds()
            text += "."
        except ClientError as error:
            text += "T" if error.response["Error"]["Code"] == "ThrottlingException" else "?"
    return text


def test_above_rate_lets_a_burst_through_then_throttles(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """An account limit starts with a full bucket of ``burst`` calls; at one moment the rest is throttled."""
    rule = aws.faults.add(operation="ListBuilds", error="ThrottlingException", above_rate=2, burst=3)
    assert _outcomes(cb, 5) == "...TT"
    assert (rule.calls, rule.fired) == (5, 2)


def test_above_rate_refills_with_virtual_time(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """The bucket gains ``above_rate`` calls a second of virtual time, up to ``burst`` (default: one
    second's worth); throttled calls take nothing from it."""
    aws.faults.add(operation="ListBuilds", error="ThrottlingException", above_rate=4)
    assert _outcomes(cb, 6) == "....TT"
    aws.clock.advance(0.5)
    assert _outcomes(cb, 3) == "..T"
    aws.clock.advance(60)
    assert _outcomes(cb, 5) == "....T"


def test_above_rate_counts_calls_from_every_thread(aws: OfflineAWS) -> None:
    """Concurrent callers share the one bucket: at one moment of virtual time exactly ``burst`` succeed."""
    aws.faults.add(operation="ListBuilds", error="ThrottlingException", above_rate=10)
    clients = [_client(aws, "codebuild") for _ in range(4)]
    outcomes: list[str] = []
    lock = threading.Lock()

    def work(client: CodeBuildClient) -> None:
        text = _outcomes(client, 5)
        with lock:
            outcomes.append(text)

    threads = [threading.Thread(target=work, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert "".join(outcomes).count(".") == 10


def test_an_earlier_rule_that_fails_a_call_spends_no_token(aws: OfflineAWS, cb: CodeBuildClient) -> None:
    """A call failed by an earlier rule never reaches the account limit behind it."""
    aws.faults.add(operation="ListBuilds", error="InternalFailure", nth=(1, 2))
    limit = aws.faults.add(operation="ListBuilds", error="ThrottlingException", above_rate=1, burst=2)
    outcomes = []
    for _ in range(5):
        try:
            cb.list_builds()
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
    assert outcomes == ["InternalFailure", "InternalFailure", "ok", "ok", "ThrottlingException"]
    assert limit.fired == 1
