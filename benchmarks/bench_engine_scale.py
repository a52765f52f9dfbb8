"""How the offline CodePipeline engine scales, and how long a whole release takes, through plain boto3.

Targets (issue 3, "Performance"):

1. 1,000 executions through a SUPERSEDED pipeline (Source -> Build (CodeBuild) -> Deploy (CodeDeploy), with
   the engine's default durations, a new execution every ``--interval`` virtual seconds so most of them are
   superseded while waiting for the build): time and memory grow linearly. Figures for 100 and 1,000
   executions, and the per-execution cost of the large run over the small one (1.0 = perfectly linear;
   target <= 1.5).
2. A five-stage release with a manual approval (Source -> Build (CodeBuild) -> Staging -> Approval -> Prod),
   driven the way a script would: start, poll GetPipelineState every ``--poll`` virtual seconds until the
   approval is pending, PutApprovalResult with the token, poll GetPipelineExecution until Succeeded. Target:
   median wall time under 50 ms (after one warm-up run; the first, cold, run is printed too).
3. Memory kept per completed execution of a two-stage pipeline (Source (S3) -> Deploy (CodeDeploy)), issue
   12: tracemalloc's traced size after ``gc.collect()``, over ``--kept`` executions that each complete, after
   as many warm-up ones. Target <= 4 KiB with the World's EventBridge event log (``aws.events``); the
   execution records alone are printed too, and apart, the artifact object each execution leaves in moto's
   S3 (what moto's S3 code allocated: the artifact store's, deleted when the execution is forgotten).
4. A soak of ``--soak`` executions of the same pipeline under retention (``execution_history_limit``
   1,000, ``event_history_limit`` 10,000): the number of allocated memory blocks after ``gc.collect()`` at
   each tenth of the run, against the first tenth (which already holds a full history). Target: flat
   (<= 1.05x).

    .venv/bin/python benchmarks/bench_engine_scale.py
    .venv/bin/python benchmarks/bench_engine_scale.py --large 2000 --repeat 5 --releases 50
    .venv/bin/python benchmarks/bench_engine_scale.py --quick    # small sizes: checks it still runs

Each size runs in a fresh ``pipepilot.local.offline()`` context; set-up (roles, buckets, project, pipeline)
is outside every figure. Wall time (the median of ``--repeat`` runs) is measured without tracemalloc, and
memory in one more, identical run under tracemalloc (which slows Python down several times): "peak" is the
highest traced size during the run, "retained" what is still allocated after draining and ``gc.collect()``,
both over the size just before the first execution started. The per-execution figures include what the
run leaves behind for each execution: its CodeBuild build and logs, its events and its history. Prints
figures only: no assertion, exit status 0.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from typing import TYPE_CHECKING, Any, cast

import attrs

import pipepilot.local

if TYPE_CHECKING:
    from mypy_boto3_codebuild import CodeBuildClient
    from mypy_boto3_codepipeline import CodePipelineClient
    from mypy_boto3_codepipeline.type_defs import PipelineDeclarationTypeDef

    from pipepilot.local import OfflineAWS

SCALE_PIPELINE = "bench-superseded"
RELEASE_PIPELINE = "bench-release"
PROJECT = "bench-build"
ARTIFACT_BUCKET = "bench-artifacts"
SOURCE_BUCKET = "bench-source"
TARGET_GROWTH = 1.5
TARGET_RELEASE_SECONDS = 0.050
DRAIN_SECONDS = 3600.0  # far longer than build (~91 s) + deploy (240 s): every execution ends
TERMINAL = frozenset({"Succeeded", "Failed", "Stopped", "Superseded", "Cancelled"})
MEMORY_PIPELINE = "bench-two-stages"
TARGET_BYTES_PER_EXECUTION = 4096
TARGET_SOAK_GROWTH = 1.05
EXECUTION_SECONDS = 600.0  # longer than a source (2 s) and a CodeDeploy deployment (240 s) together

# -- declarations ---------------------------------------------------------------------------------------------


def _action(
    name: str,
    category: str,
    provider: str,
    configuration: dict[str, str],
    *,
    inputs: tuple[str, ...] = (),
    outputs: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "name": name,
        "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
        "runOrder": 1,
        "configuration": configuration,
        "inputArtifacts": [{"name": artifact} for artifact in inputs],
        "outputArtifacts": [{"name": artifact} for artifact in outputs],
    }


def _source() -> dict[str, Any]:
    return _action(
        "Source",
        "Source",
        "S3",
        {"S3Bucket": SOURCE_BUCKET, "S3ObjectKey": "app.zip", "PollForSourceChanges": "false"},
        outputs=("SourceOutput",),
    )


def _build() -> dict[str, Any]:
    return _action(
        "Build",
        "Build",
        "CodeBuild",
        {"ProjectName": PROJECT},
        inputs=("SourceOutput",),
        outputs=("BuildOutput",),
    )


def _deploy(name: str) -> dict[str, Any]:
    return _action(
        name,
        "Deploy",
        "CodeDeploy",
        {"ApplicationName": "bench-app", "DeploymentGroupName": f"{name}-group"},
        inputs=("BuildOutput",),
    )


def _approval() -> dict[str, Any]:
    return _action("Approve", "Approval", "Manual", {})


def _declaration(name: str, role_arn: str, *stages: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": name,
        "roleArn": role_arn,
        "artifactStore": {"type": "S3", "location": ARTIFACT_BUCKET},
        "pipelineType": "V2",
        "executionMode": "SUPERSEDED",
        "stages": [{"name": stage, "actions": [action]} for stage, action in stages],
    }


# -- environment ----------------------------------------------------------------------------------------------


@attrs.define
class _Env:
    aws: OfflineAWS
    cp: CodePipelineClient
    cb: CodeBuildClient
    role_arn: str


def _open(aws: OfflineAWS) -> _Env:
    """Roles, buckets and the CodeBuild project every pipeline here uses (through moto / the engine)."""
    s3 = aws.client("s3")
    role_arn = aws.service_role("bench-pipeline")
    build_role_arn = aws.service_role("bench-build", "codebuild")
    s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    s3.create_bucket(Bucket=SOURCE_BUCKET)
    cb: CodeBuildClient = aws.client("codebuild")
    cb.create_project(
        name=PROJECT,
        source={"type": "CODEPIPELINE"},
        artifacts={"type": "CODEPIPELINE"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=build_role_arn,
    )
    return _Env(aws=aws, cp=aws.client("codepipeline"), cb=cb, role_arn=role_arn)


def _create(env: _Env, declaration: dict[str, Any]) -> None:
    env.cp.create_pipeline(pipeline=cast("PipelineDeclarationTypeDef", declaration))


def _statuses(env: _Env, pipeline: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for page in env.cp.get_paginator("list_pipeline_executions").paginate(pipelineName=pipeline):
        counts.update(summary["status"] for summary in page["pipelineExecutionSummaries"])
    return counts


def _verdict(measured: float, target: float, *, strict: bool = False) -> str:
    met = measured < target if strict else measured <= target
    return "PASS" if met else "MISS"


# -- 1. scale ---------------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ScaleRun:
    """One run of ``executions`` executions: wall seconds, or traced bytes, and the end statuses."""

    executions: int
    seconds: float
    peak_bytes: int
    retained_bytes: int
    statuses: Counter[str]


def _scale_run(executions: int, interval: float, *, trace: bool) -> ScaleRun:
    with pipepilot.local.offline(seed=0) as aws:
        env = _open(aws)
        _create(
            env,
            _declaration(
                SCALE_PIPELINE,
                env.role_arn,
                ("Source", _source()),
                ("Build", _build()),
                ("Deploy", _deploy("Deploy")),
            ),
        )
        aws.clock.advance(DRAIN_SECONDS)  # the execution CreatePipeline starts ends before measuring
        start = env.cp.start_pipeline_execution
        advance = aws.clock.advance
        gc.collect()
        baseline = 0
        if trace:
            tracemalloc.start()
            baseline = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
        began = time.perf_counter()
        for _ in range(executions):
            start(name=SCALE_PIPELINE)
            advance(interval)
        advance(DRAIN_SECONDS)
        seconds = time.perf_counter() - began
        peak = retained = 0
        if trace:
            gc.collect()
            current, peak_traced = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            peak, retained = peak_traced - baseline, current - baseline
        statuses = _statuses(env, SCALE_PIPELINE)
    gc.collect()
    return ScaleRun(
        executions=executions,
        seconds=seconds,
        peak_bytes=peak,
        retained_bytes=retained,
        statuses=statuses,
    )


def bench_scale(small: int, large: int, interval: float, repeats: int) -> list[str]:
    """Time and memory for ``small`` and ``large`` executions and the per-execution growth, as lines."""
    lines = [f"1. SUPERSEDED pipeline, Source -> Build -> Deploy, one start every {interval:.0f} virtual s"]
    _scale_run(20, interval, trace=False)  # warm-up: imports, botocore shape caches, engine code paths
    seconds: dict[int, float] = {}
    statuses: dict[int, Counter[str]] = {}
    for size in (small, large):
        runs = [_scale_run(size, interval, trace=False) for _ in range(repeats)]
        seconds[size] = statistics.median(run.seconds for run in runs)
        statuses[size] = runs[0].statuses
    traced = {size: _scale_run(size, interval, trace=True) for size in (small, large)}
    for size in (small, large):
        memory = traced[size]
        ended = ", ".join(f"{status} {count}" for status, count in sorted(statuses[size].items()))
        lines += [
            f"   {size:>5} executions: {seconds[size] * 1000:8.1f} ms wall, median of {repeats} "
            f"({seconds[size] / size * 1e6:6.1f} us/execution)",
            f"                     tracemalloc peak {memory.peak_bytes / 2**20:6.2f} MiB, "
            f"retained {memory.retained_bytes / 2**20:6.2f} MiB "
            f"({memory.retained_bytes / size / 1024:5.1f} KiB/execution)",
            f"                     ended (with CreatePipeline's execution): {ended}",
        ]
    growth = {
        "wall time": (seconds[large] / large) / (seconds[small] / small),
        "memory peak": (traced[large].peak_bytes / large) / (traced[small].peak_bytes / small),
        "memory retained": (traced[large].retained_bytes / large) / (traced[small].retained_bytes / small),
    }
    lines += [
        f"   per-execution {name:<16} {large} vs {small}: {ratio:5.2f}x  "
        f"(target <= {TARGET_GROWTH:.1f})  {_verdict(ratio, TARGET_GROWTH)}"
        for name, ratio in growth.items()
    ]
    return lines


# -- 2. release ---------------------------------------------------------------------------------------------


def _release(env: _Env, poll: float) -> int:
    """One release through plain boto3; returns the number of API calls it made."""
    cp, advance = env.cp, env.aws.clock.advance
    execution_id = cp.start_pipeline_execution(name=RELEASE_PIPELINE)["pipelineExecutionId"]
    calls = 1
    token = None
    while token is None:
        advance(poll)
        calls += 1
        for stage in cp.get_pipeline_state(name=RELEASE_PIPELINE)["stageStates"]:
            if stage["stageName"] != "Approval":
                continue
            ours = stage.get("latestExecution", {}).get("pipelineExecutionId") == execution_id
            action = stage["actionStates"][0].get("latestExecution", {})
            if ours and action.get("status") == "InProgress":
                token = action.get("token")
    cp.put_approval_result(
        pipelineName=RELEASE_PIPELINE,
        stageName="Approval",
        actionName="Approve",
        result={"summary": "Ship it", "status": "Approved"},
        token=token,
    )
    calls += 1
    status = "InProgress"
    while status not in TERMINAL:
        advance(poll)
        calls += 1
        status = cp.get_pipeline_execution(pipelineName=RELEASE_PIPELINE, pipelineExecutionId=execution_id)[
            "pipelineExecution"
        ]["status"]
    if status != "Succeeded":
        raise RuntimeError(f"release {execution_id} ended {status}, not Succeeded")
    return calls


def bench_release(releases: int, poll: float) -> list[str]:
    """The wall time of the first release and the median of ``releases`` later ones, as lines."""
    lines = [
        "2. Release: Source -> Build (CodeBuild) -> Staging -> Approval (Manual) -> Prod, "
        f"polling every {poll:.0f} virtual s"
    ]
    with pipepilot.local.offline(seed=0) as aws:
        env = _open(aws)
        _create(
            env,
            _declaration(
                RELEASE_PIPELINE,
                env.role_arn,
                ("Source", _source()),
                ("Build", _build()),
                ("Staging", _deploy("Staging")),
                ("Approval", _approval()),
                ("Prod", _deploy("Prod")),
            ),
        )
        # CreatePipeline starts an execution; abandon it so every release below starts from a quiet pipeline.
        first = env.cp.list_pipeline_executions(pipelineName=RELEASE_PIPELINE)["pipelineExecutionSummaries"]
        env.cp.stop_pipeline_execution(
            pipelineName=RELEASE_PIPELINE, pipelineExecutionId=first[0]["pipelineExecutionId"], abandon=True
        )
        aws.clock.advance(DRAIN_SECONDS)
        gc.collect()
        virtual_began = aws.clock.now()
        began = time.perf_counter()
        calls = _release(env, poll)
        cold = time.perf_counter() - began
        virtual = aws.clock.now() - virtual_began
        _release(env, poll)  # warm-up
        samples = []
        for _ in range(releases):
            gc.collect()
            began = time.perf_counter()
            _release(env, poll)
            samples.append(time.perf_counter() - began)
    median = statistics.median(samples)
    return [
        *lines,
        f"   {calls} API calls and {virtual:.0f} virtual s per release",
        f"   first (cold) release:   {cold * 1000:6.2f} ms wall "
        f"(target < {TARGET_RELEASE_SECONDS * 1000:.0f} ms)  {_verdict(cold, TARGET_RELEASE_SECONDS, strict=True)}",
        f"   median of {releases} releases: {median * 1000:6.2f} ms wall "
        f"(min {min(samples) * 1000:.2f}, max {max(samples) * 1000:.2f}) "
        f"(target < {TARGET_RELEASE_SECONDS * 1000:.0f} ms)  {_verdict(median, TARGET_RELEASE_SECONDS, strict=True)}",
    ]


# -- 3. memory per completed execution, 4. soak -----------------------------------------------------------


def _two_stage_pipeline(env: _Env) -> None:
    deploy = _deploy("Deploy")
    deploy["inputArtifacts"] = [{"name": "SourceOutput"}]
    declaration = _declaration(MEMORY_PIPELINE, env.role_arn, ("Source", _source()), ("Deploy", deploy))
    _create(env, declaration)


def _run_executions(env: _Env, count: int) -> None:
    start, advance = env.cp.start_pipeline_execution, env.aws.clock.advance
    for _ in range(count):
        start(name=MEMORY_PIPELINE)
        advance(EXECUTION_SECONDS)


def bench_kept(kept: int) -> list[str]:
    """Bytes the engine keeps per completed execution of a two-stage pipeline, as lines."""
    with pipepilot.local.offline(seed=0) as aws:
        env = _open(aws)
        _two_stage_pipeline(env)
        _run_executions(env, kept)  # warm-up: botocore's caches, the engine's code paths
        aws.events.clear()
        gc.collect()
        tracemalloc.start(_TRACE_FRAMES)
        baseline = tracemalloc.take_snapshot()
        _run_executions(env, kept)
        gc.collect()
        after = tracemalloc.take_snapshot()
        total = _grown(after, baseline)
        # moto's S3 objects (the artifacts, deleted under retention) are the artifact store's, not the
        # engine's: what moto's S3 code allocated is counted apart.
        artifacts = _grown(after, baseline, _IN_MOTO_S3)
        aws.events.clear()
        gc.collect()
        without_events = _grown(tracemalloc.take_snapshot(), baseline)
        tracemalloc.stop()
        statuses = _statuses(env, MEMORY_PIPELINE)
    engine = (total - artifacts) / kept
    records = (without_events - artifacts) / kept
    return [
        f"3. Memory kept per completed execution, Source -> Deploy, {kept} executions after {kept} warm-up",
        f"   engine, event log included: {engine:7.0f} bytes/execution "
        f"(target <= {TARGET_BYTES_PER_EXECUTION})  {_verdict(engine, TARGET_BYTES_PER_EXECUTION)}",
        f"   execution records alone:    {records:7.0f} bytes/execution; "
        f"the event log {engine - records:.0f}",
        f"   the artifact object in moto's S3 (until forgotten): {artifacts / kept:7.0f} bytes/execution",
        f"   ended: {', '.join(f'{status} {count}' for status, count in sorted(statuses.items()))}",
    ]


# Frames kept per allocation: enough to see moto's S3 code under the engine's callbacks.
_TRACE_FRAMES = 32
_IN_MOTO_S3 = tracemalloc.Filter(True, "*/moto/s3/*", all_frames=True)


def _grown(
    after: tracemalloc.Snapshot, before: tracemalloc.Snapshot, only: tracemalloc.Filter | None = None
) -> int:
    """Bytes traced in ``after`` over ``before`` (only allocations ``only`` matches, if given)."""
    if only is not None:
        after, before = after.filter_traces([only]), before.filter_traces([only])
    return sum(stat.size for stat in after.statistics("filename")) - sum(
        stat.size for stat in before.statistics("filename")
    )


def bench_soak(executions: int, history: int, events: int) -> list[str]:
    """Allocated blocks over a soak of ``executions`` under retention, at each tenth, as lines."""
    settings = pipepilot.local.CodePipelineSettings(
        execution_history_limit=history, event_history_limit=events
    )
    lines = [
        f"4. Soak: {executions} executions, Source -> Deploy, retention {history} executions / {events} events"
    ]
    with pipepilot.local.offline(seed=0, codepipeline_settings=settings) as aws:
        env = _open(aws)
        _two_stage_pipeline(env)
        tenth = max(1, executions // 10)
        blocks: list[int] = []
        began = time.perf_counter()
        for _ in range(10):
            _run_executions(env, tenth)
            gc.collect()
            blocks.append(sys.getallocatedblocks())
        seconds = time.perf_counter() - began
        kept = sum(_statuses(env, MEMORY_PIPELINE).values())
        logged = len(aws.events)
    growth = blocks[-1] / blocks[0]
    lines += [
        "   allocated blocks at each tenth: " + ", ".join(f"{count:,}" for count in blocks),
        f"   last tenth vs first: {growth:5.3f}x (target <= {TARGET_SOAK_GROWTH})  "
        f"{_verdict(growth, TARGET_SOAK_GROWTH)}",
        f"   executions listed at the end: {kept}, events kept: {logged}, {seconds:.1f} s wall "
        f"({seconds / (10 * tenth) * 1e6:.0f} us/execution)",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run both benchmarks and print their figures; always returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--small", type=int, default=100, help="executions in the small run (default 100)")
    parser.add_argument("--large", type=int, default=1000, help="executions in the large run (default 1000)")
    parser.add_argument(
        "--interval", type=float, default=60.0, help="virtual seconds between starts (default 60)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size (default 3)")
    parser.add_argument("--releases", type=int, default=20, help="timed releases (default 20)")
    parser.add_argument("--poll", type=float, default=30.0, help="virtual seconds between polls (default 30)")
    parser.add_argument(
        "--kept", type=int, default=1000, help="executions measured for memory kept (default 1000)"
    )
    parser.add_argument("--soak", type=int, default=100_000, help="executions in the soak (default 100000)")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, one run each: checks it still runs"
    )
    args = parser.parse_args(argv)
    history, events = 1000, 10_000
    if args.quick:
        args.small, args.large, args.repeat, args.releases = 10, 50, 1, 2
        args.kept, args.soak, history, events = 50, 2000, 100, 1000
    began = time.perf_counter()
    # The release runs first so its cold figure is the process's first pipeline execution.
    release = bench_release(args.releases, args.poll)
    scale = bench_scale(args.small, args.large, args.interval, args.repeat)
    kept = bench_kept(args.kept)
    soak = bench_soak(args.soak, history, events)
    print("\n".join([*scale, *release, *kept, *soak]))
    print(f"total {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
