"""How long pipepilot takes to read and write a big declaration, next to botocore parsing the same response.

The target (issue 2): ``PipelineDeclaration.from_api`` + ``to_api`` of a 50-stage x 10-action declaration takes at
most half the time botocore spends parsing the ``GetPipeline`` response that carries it. Both are measured in
the same run, as medians, so the ratio holds on any machine.

    .venv/bin/python benchmarks/bench_roundtrip.py            # print the figures
    .venv/bin/python benchmarks/bench_roundtrip.py --check    # also exit 1 if the ratio misses the target

pipepilot generates each model's reader and writer from its field declarations on first use; that one-off
cost is printed separately ("first from_api + to_api"), and the timed rounds measure the generated code.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from typing import TYPE_CHECKING, Any

import botocore.parsers
import botocore.session

from pipepilot.model.declaration import PipelineDeclaration

if TYPE_CHECKING:
    from collections.abc import Callable

STAGES = 50
ACTIONS_PER_STAGE = 10
TARGET_RATIO = 0.5
ACCOUNT = "123456789012"


def _source_action(index: int) -> dict[str, Any]:
    return {
        "name": f"Source-{index}",
        "actionTypeId": {
            "category": "Source",
            "owner": "AWS",
            "provider": "CodeStarSourceConnection",
            "version": "1",
        },
        "runOrder": 1,
        "configuration": {
            "BranchName": "main",
            "ConnectionArn": f"arn:aws:codeconnections:us-east-1:{ACCOUNT}:connection/0a1b2c3d-{index:04d}",
            "FullRepositoryId": f"example/service-{index}",
            "OutputArtifactFormat": "CODE_ZIP",
        },
        "outputArtifacts": [{"name": f"Src{index}"}],
        "inputArtifacts": [],
        "region": "us-east-1",
        "namespace": f"SourceVariables{index}",
    }


def _work_action(stage: int, index: int) -> dict[str, Any]:
    """A mix of the action kinds real pipelines use most, with realistic configuration sizes."""
    source = f"Src{index}"
    kind = index % 3
    if kind == 0:
        type_id = {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"}
        configuration = {"ProjectName": f"build-{stage}-{index}", "PrimarySource": source}
    elif kind == 1:
        type_id = {"category": "Deploy", "owner": "AWS", "provider": "CloudFormation", "version": "1"}
        configuration = {
            "ActionMode": "CREATE_UPDATE",
            "StackName": f"stack-{stage}-{index}",
            "Capabilities": "CAPABILITY_IAM,CAPABILITY_AUTO_EXPAND",
            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/cfn-deploy",
            "TemplatePath": f"{source}::template.yaml",
        }
    else:
        type_id = {"category": "Invoke", "owner": "AWS", "provider": "Lambda", "version": "1"}
        configuration = {"FunctionName": f"notify-{stage}", "UserParameters": json.dumps({"stage": stage})}
    return {
        "name": f"Action-{index}",
        "actionTypeId": type_id,
        "runOrder": 1 + index // 4,
        "configuration": configuration,
        "outputArtifacts": [{"name": f"Out{stage}x{index}"}],
        "inputArtifacts": [{"name": source}],
        "region": "us-east-1",
        "namespace": f"Vars{stage}x{index}",
    }


def build_declaration(stages: int = STAGES, actions: int = ACTIONS_PER_STAGE) -> dict[str, Any]:
    """A valid V2 pipeline: one source stage, then stages of builds, deployments and invocations."""
    stage_list = [{"name": "Source", "actions": [_source_action(index) for index in range(actions)]}]
    stage_list += [
        {"name": f"Stage-{stage}", "actions": [_work_action(stage, index) for index in range(actions)]}
        for stage in range(1, stages)
    ]
    return {
        "name": "big-pipeline",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/pipeline",
        "artifactStore": {"type": "S3", "location": "artifact-bucket"},
        "stages": stage_list,
        "version": 7,
        "executionMode": "QUEUED",
        "pipelineType": "V2",
    }


def build_response_body(pipeline: dict[str, Any]) -> bytes:
    """The ``GetPipeline`` response body as the service sends it (JSON, epoch-seconds timestamps)."""
    metadata = {
        "pipelineArn": f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:{pipeline['name']}",
        "created": 1700000000.123,
        "updated": 1700003600.456,
    }
    return json.dumps({"pipeline": pipeline, "metadata": metadata}).encode()


def _cpu_seconds(run: Callable[[], object]) -> float:
    """CPU time of one call, with the garbage collector paused (as ``timeit`` does).

    CPU time rather than wall time: benchmarks often share a machine with test runs, and another process
    taking the core should not count against either side of the ratio.
    """
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        run()
        return time.process_time() - start
    finally:
        gc.enable()


def main(argv: list[str] | None = None) -> int:
    """Measure, print the figures, and (with ``--check``) fail when the ratio misses the target."""
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    options.add_argument("--rounds", type=int, default=40, help="timed rounds per measurement (median kept)")
    options.add_argument("--check", action="store_true", help="exit 1 if the ratio exceeds the target")
    options.add_argument("--quick", action="store_true", help="3 rounds, to check that it works")
    args = options.parse_args(argv)
    if args.quick:
        args.rounds, args.check = 3, False

    service_model = botocore.session.get_session().get_service_model("codepipeline")
    output_shape = service_model.operation_model("GetPipeline").output_shape
    assert output_shape is not None, "botocore's GetPipeline has an output shape"
    parser = botocore.parsers.create_parser("json")
    body = build_response_body(build_declaration())
    http_response = {"body": body, "headers": {}, "status_code": 200}

    parsed = parser.parse(http_response, output_shape)
    pipeline = parsed["pipeline"]
    start = time.process_time()
    first = PipelineDeclaration.from_api(pipeline).to_api()
    first_time = time.process_time() - start
    if first != pipeline:
        print("round trip is not lossless", file=sys.stderr)
        return 2

    def botocore_parse() -> object:
        return parser.parse(http_response, output_shape)

    def pipepilot_round_trip() -> object:
        return PipelineDeclaration.from_api(pipeline).to_api()

    def pipepilot_from_api() -> object:
        return PipelineDeclaration.from_api(pipeline)

    decl = PipelineDeclaration.from_api(pipeline)

    for warm_up in (botocore_parse, pipepilot_round_trip):
        warm_up()
    # Interleaved rounds: both sides see the same machine conditions, round by round.
    parse_times, round_trip_times, from_api_times, to_api_times = [], [], [], []
    for _ in range(args.rounds):
        parse_times.append(_cpu_seconds(botocore_parse))
        round_trip_times.append(_cpu_seconds(pipepilot_round_trip))
        from_api_times.append(_cpu_seconds(pipepilot_from_api))
        to_api_times.append(_cpu_seconds(decl.to_api))
    parse_time = statistics.median(parse_times)
    round_trip_time = statistics.median(round_trip_times)
    from_api_time = statistics.median(from_api_times)
    to_api_time = statistics.median(to_api_times)
    ratio = round_trip_time / parse_time

    actions = STAGES * ACTIONS_PER_STAGE
    print(
        f"declaration: {STAGES} stages x {ACTIONS_PER_STAGE} actions = {actions} actions, {len(body):,} bytes of JSON"
    )
    print(
        f"botocore parse of the GetPipeline response:  {parse_time * 1e3:8.3f} ms (median CPU time of {args.rounds})"
    )
    print(
        f"pipepilot from_api + to_api:                 {round_trip_time * 1e3:8.3f} ms (median CPU time of {args.rounds})"
    )
    print(f"  from_api alone:                            {from_api_time * 1e3:8.3f} ms")
    print(f"  to_api alone:                              {to_api_time * 1e3:8.3f} ms")
    print(f"first from_api + to_api (generates the code): {first_time * 1e3:8.3f} ms (once per process)")
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(f"ratio (pipepilot / botocore): {ratio:.3f} ({verdict} the target of <= {TARGET_RATIO})")
    return 1 if args.check and ratio > TARGET_RATIO else 0


if __name__ == "__main__":
    sys.exit(main())
