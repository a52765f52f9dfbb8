"""Benchmark: reading 200 pipelines with ``cp.states`` versus one by one, under a rate limit.

Every ``GetPipelineState`` is delayed 50 ms of real (wall) time by the offline fault plan, as a distant AWS
endpoint would. The offline clock runs at real speed here (``speed=1``), so the rate limiter really waits
and "never over the rate" is measured on the wall clock: every request's send time is recorded, and the
busiest one-second window must hold at most ``rate + 1`` of them (a token bucket of one token: successive
requests at least ``1 / rate`` apart).

Target (issue 4): at least 6x faster than one by one, never over the rate.

Run: ``python benchmarks/bench_fleet.py`` (``--quick``: 20 pipelines, to check that it works; no verdict).
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from typing import Any

import boto3

import pipepilot.local
from pipepilot.pipelines import CodePipeline

PIPELINES = 200
LATENCY = 0.05
RATE = 250.0
TIGHT_RATE = 100.0  # a second run where the limit, not the latency, sets the pace
WORKERS = 16
MIN_SPEEDUP = 6.0
REGION = "us-east-1"

_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "codepipeline.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _declaration(name: str, role_arn: str) -> dict[str, Any]:
    return {
        "name": name,
        "roleArn": role_arn,
        "artifactStore": {"type": "S3", "location": "bench-artifacts"},
        "pipelineType": "V2",
        "stages": [
            {
                "name": "Source",
                "actions": [
                    {
                        "name": "Source",
                        "actionTypeId": {
                            "category": "Source",
                            "owner": "AWS",
                            "provider": "S3",
                            "version": "1",
                        },
                        "configuration": {"S3Bucket": "bench-source", "S3ObjectKey": "app.zip"},
                        "outputArtifacts": [{"name": "src"}],
                    }
                ],
            },
            {
                "name": "Prod",
                "actions": [
                    {
                        "name": "Deploy",
                        "actionTypeId": {
                            "category": "Deploy",
                            "owner": "AWS",
                            "provider": "S3",
                            "version": "1",
                        },
                        "configuration": {"BucketName": "bench-site", "Extract": "true"},
                        "inputArtifacts": [{"name": "src"}],
                    }
                ],
            },
        ],
    }


def busiest_second(stamps: list[float]) -> int:
    """The most requests sent within any window of one second."""
    ordered = sorted(stamps)
    best, start = 0, 0
    for end, stamp in enumerate(ordered):
        while stamp - ordered[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def main(argv: list[str] | None = None) -> int:
    """Print the figures; exit status 1 if a target is missed (never with ``--quick``)."""
    quick = "--quick" in (argv or [])
    pipelines = 20 if quick else PIPELINES
    with pipepilot.local.offline(speed=1.0) as aws:
        session = boto3.session.Session(region_name=REGION)
        role_arn = session.client("iam").create_role(
            RoleName="bench", AssumeRolePolicyDocument=json.dumps(_TRUST)
        )["Role"]["Arn"]
        raw = session.client("codepipeline")
        names = [f"svc-{index:03d}" for index in range(pipelines)]
        for name in names:
            raw.create_pipeline(pipeline=_declaration(name, role_arn))  # type: ignore[arg-type]

        cp = CodePipeline(session=session, region_name=REGION)
        stamps: list[float] = []
        cp.client.meta.events.register(
            "before-call.codepipeline.GetPipelineState", lambda **_: stamps.append(time.monotonic())
        )
        aws.faults.add(service="codepipeline", operation="GetPipelineState", latency=LATENCY)

        started = time.perf_counter()
        one_by_one = {name: cp.pipeline(name).state() for name in names}
        sequential = time.perf_counter() - started

        stamps.clear()
        started = time.perf_counter()
        fleet = cp.states(names, max_workers=WORKERS, rate=RATE)
        concurrent = time.perf_counter() - started
        fast_stamps = list(stamps)

        stamps.clear()
        started = time.perf_counter()
        tight = cp.states(names, max_workers=WORKERS, rate=TIGHT_RATE)
        tight_time = time.perf_counter() - started
        tight_busiest = busiest_second(stamps)
        stamps[:] = fast_stamps

    speedup = sequential / concurrent
    busiest = busiest_second(stamps)
    ordered = sorted(stamps)
    closest = min(b - a for a, b in itertools.pairwise(ordered))
    # The executions creation started keep running (in real time) between the two reads, so compare what
    # cannot change: which pipeline, which stages.
    same = all(
        (fleet[name].pipeline_name, [s.stage_name for s in fleet[name]])
        == (one_by_one[name].pipeline_name, [s.stage_name for s in one_by_one[name]])
        for name in names
    )
    print(f"{pipelines} pipelines, GetPipelineState delayed {LATENCY * 1000:.0f} ms (wall) each")
    print(f"one by one:   {sequential:6.2f} s  ({sequential / pipelines * 1000:.1f} ms per pipeline)")
    print(
        f"cp.states:    {concurrent:6.2f} s  ({WORKERS} workers, rate {RATE:.0f}/s; errors: {len(fleet.errors)})"
    )
    print(f"speed-up:     {speedup:6.1f}x  (target >= {MIN_SPEEDUP:.0f}x)")
    print(f"requests:     {len(stamps)}; busiest second {busiest} (limit {RATE:.0f} + 1)")
    print(
        f"closest pair: {closest * 1000:.2f} ms apart (the limiter spaces them {1000 / RATE:.2f} ms; thread "
        "scheduling after it adds jitter)"
    )
    print(f"same pipelines and stages as one by one: {same}")
    print(
        f"at rate {TIGHT_RATE:.0f}/s: {tight_time:.2f} s (at least {(pipelines - 1) / TIGHT_RATE:.2f} s), "
        f"busiest second {tight_busiest} (limit {TIGHT_RATE:.0f} + 1)"
    )
    ok = (
        speedup >= MIN_SPEEDUP
        and busiest <= RATE + 1
        and tight_busiest <= TIGHT_RATE + 1
        and not fleet.errors
        and not tight.errors
        and same
        and len(stamps) == pipelines
    )
    print("targets", "met" if ok else "MISSED")
    return 0 if ok or quick else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
