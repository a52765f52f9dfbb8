"""How big ``validate()``'s message gets, and how validation time grows, for a large declaration.

Targets (issue 12, "Validation output a person can read"):

1. The message of the ``PipelineValidationError`` that ``validate()`` raises for a broken 1,000-action
   declaration is at most 64 KiB and says how many problems there are (``problems()`` still returns each).
2. Validation time grows linearly: a 1,000-action declaration takes at most 12x a 100-action one, both for
   a broken declaration (several problems per action) and a valid one (a 1,000-action pipeline breaks only
   the 500-action quota, so "valid" means: no problem per action).

The declarations: a first stage of S3 sources (one per 10 actions), then stages of up to 50 CodeBuild
actions, each reading a source and the output of the action at its position in the previous stage, and
passing a source's variable to its build. In the broken one every build action misspells the artifact (a
distinct near miss each, so every problem offers a "did you mean" among hundreds of artifacts) and the
namespace, and sets timeoutInMinutes: about three problems per action.

    .venv/bin/python benchmarks/bench_validation.py            # the figures
    .venv/bin/python benchmarks/bench_validation.py --quick    # a fast run that only checks it still works

Times are CPU seconds (the median of ``--repeat`` runs, garbage collector paused), so another process on the
machine counts against neither side of the ratio. Prints figures only: no assertion, exit status 0.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from typing import Any

from pipepilot.errors import PipelineValidationError
from pipepilot.model.declaration import PipelineDeclaration

ACTIONS_PER_STAGE = 50
TARGET_MESSAGE_BYTES = 64 * 1024
TARGET_TIME_RATIO = 12.0
ACCOUNT = "123456789012"


def _source(index: int) -> dict[str, Any]:
    return {
        "name": f"Source-{index}",
        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
        "runOrder": 1,
        "configuration": {"S3Bucket": f"source-{index}", "S3ObjectKey": "app.zip"},
        "outputArtifacts": [{"name": f"Src{index}"}],
        "namespace": f"SourceVariables{index}",
    }


def _build(stage: int, index: int, previous: int, sources: int, *, broken: bool) -> dict[str, Any]:
    source = index % sources
    inputs = [f"Src{source}"]
    if stage > 1 and index < previous:
        inputs.append(f"Out{stage - 1}x{index}")
    namespace = f"SourceVariables{source}"
    if broken:
        # Near misses, distinct per action: each gets its own "did you mean" over everything earlier.
        inputs[-1] = inputs[-1].replace("Out", "Otu").replace("Src", "Scr")
        namespace = f"SourceVariable{source}"
    action: dict[str, Any] = {
        "name": f"Build-{index}",
        "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
        "runOrder": 1,
        "configuration": {
            "ProjectName": f"build-{stage}-{index}",
            "PrimarySource": f"Src{source}",
            "EnvironmentVariables": f'[{{"name":"COMMIT","value":"#{{{namespace}.CommitId}}"}}]',
        },
        "inputArtifacts": [{"name": name} for name in inputs],
        "outputArtifacts": [{"name": f"Out{stage}x{index}"}],
    }
    if broken:
        action["timeoutInMinutes"] = 60
    return action


def build_declaration(actions: int, *, broken: bool) -> dict[str, Any]:
    """A V2 pipeline of ``actions`` actions: a source per 10 actions, then stages of up to 50 builds."""
    sources = max(1, actions // 10)
    stages: list[dict[str, Any]] = [
        {"name": "Source", "actions": [_source(index) for index in range(sources)]}
    ]
    remaining, previous = actions - sources, sources
    while remaining > 0:
        size = min(ACTIONS_PER_STAGE, remaining)
        number = len(stages)
        stages.append(
            {
                "name": f"Build-{number}",
                "actions": [_build(number, index, previous, sources, broken=broken) for index in range(size)],
            }
        )
        remaining, previous = remaining - size, size
    return {
        "name": f"bench-{actions}-{'broken' if broken else 'valid'}",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/pipeline",
        "artifactStore": {"type": "S3", "location": "artifact-bucket"},
        "pipelineType": "V2",
        "executionMode": "QUEUED",
        "stages": stages,
    }


def _validate(declaration: PipelineDeclaration) -> PipelineValidationError | None:
    try:
        declaration.validate()
    except PipelineValidationError as error:
        return error
    return None


def _cpu_seconds(declaration: PipelineDeclaration) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        _validate(declaration)
        return time.process_time() - start
    finally:
        gc.enable()


def _verdict(measured: float, target: float) -> str:
    return "PASS" if measured <= target else "MISS"


def bench_message(actions: int) -> list[str]:
    """The size of ``validate()``'s message for a broken declaration, and what it says, as lines."""
    error = _validate(PipelineDeclaration.from_api(build_declaration(actions, broken=True)))
    if error is None:
        raise RuntimeError("the broken declaration validated")
    message = str(error)
    size = len(message.encode())
    counted = f"{len(error.problems)} problem" in message
    return [
        f"1. validate() message, broken {actions}-action declaration ({len(error.problems)} problems)",
        f"   {size:,} bytes, {len(message.splitlines())} lines (target <= {TARGET_MESSAGE_BYTES:,} bytes)  "
        f"{_verdict(size, TARGET_MESSAGE_BYTES)}",
        f"   first line: {message.splitlines()[0]!r}",
        f"   says how many problems: {'yes  PASS' if counted else 'no  MISS'}",
    ]


def bench_time(small: int, large: int, repeats: int) -> list[str]:
    """Validation CPU time for ``small`` and ``large`` actions, broken and valid, and the ratios, as lines."""
    lines = [f"2. validation time, {large} actions vs {small} (CPU, median of {repeats})"]
    for broken in (True, False):
        seconds = {}
        for size in (small, large):
            declaration = PipelineDeclaration.from_api(build_declaration(size, broken=broken))
            _validate(declaration)  # warm-up: botocore's service model, compiled shape checks
            seconds[size] = statistics.median(_cpu_seconds(declaration) for _ in range(repeats))
        ratio = seconds[large] / seconds[small]
        lines.append(
            f"   {'broken' if broken else 'valid ':6}: {seconds[small] * 1000:7.1f} ms vs "
            f"{seconds[large] * 1000:7.1f} ms = {ratio:5.2f}x (target <= {TARGET_TIME_RATIO:.0f}x)  "
            f"{_verdict(ratio, TARGET_TIME_RATIO)}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Print the figures; always returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--small", type=int, default=100, help="actions in the small declaration (100)")
    parser.add_argument("--large", type=int, default=1000, help="actions in the large declaration (1000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per declaration (default 5)")
    parser.add_argument("--quick", action="store_true", help="small sizes, one run: checks it still works")
    args = parser.parse_args(argv)
    if args.quick:
        args.small, args.large, args.repeat = 20, 100, 1
    began = time.perf_counter()
    print("\n".join([*bench_message(args.large), *bench_time(args.small, args.large, args.repeat)]))
    print(f"total {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
