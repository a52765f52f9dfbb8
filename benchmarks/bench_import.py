"""Benchmark: what ``import pipepilot`` costs next to ``import boto3``, and what it loads.

Each measurement runs in a fresh interpreter (nothing cached in ``sys.modules``) and times the import
statement alone with ``time.perf_counter``, so interpreter start-up is left out of both sides. The two
imports alternate, so drift on the machine affects both alike. Target (issue 2): the median of
``import pipepilot`` at most 1.10 x the median of ``import boto3``.

It then lists every module ``import pipepilot`` adds to ``sys.modules`` and reports any that is not part
of pipepilot, boto3, botocore, attrs, tenacity, their own dependencies (whatever ``import boto3, attrs,
tenacity`` loads by itself, such as urllib3 and jmespath) or the standard library.

Run: ``python benchmarks/bench_import.py [runs]`` (default 15 runs of each, at least 11), or with
``--quick`` (3 runs, to check that it works; no verdict). Exit status 1 if either target is missed.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

MAX_RATIO = 1.10
DEFAULT_RUNS = 15
MIN_RUNS = 11

_TIME_IMPORT = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
#: What a Lambda handler driving releases typically imports: the names load on first use, so this is the
#: cost that ``import pipepilot`` defers, not one it avoids. Printed for the record, not held to a target.
_TYPICAL_IMPORT = "from pipepilot import CodePipeline, PipelineDeclaration"
_NEW_MODULES = (
    "import json, sys; before = set(sys.modules); import {module}; "
    "print(json.dumps(sorted(set(sys.modules) - before)))"
)
#: Top-level packages that are allowed by name; their dependencies are found by importing them.
ALLOWED_ROOTS = frozenset({"pipepilot", "boto3", "botocore", "attr", "attrs", "tenacity"})
#: Never acceptable at import time, whatever else is allowed (test-only or optional parts).
FORBIDDEN = ("moto", "pipepilot.local", "pipepilot.cli", "mypy_boto3", "pytest", "hypothesis")


def _run(code: str) -> str:
    """Run ``code`` in a fresh interpreter without site customisations from the caller's environment."""
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def time_import(module: str) -> float:
    """Seconds one fresh interpreter spends on ``import module``."""
    return time_statement(f"import {module}")


def time_statement(statement: str) -> float:
    """Seconds one fresh interpreter spends running the import ``statement``."""
    return float(_run(_TIME_IMPORT.format(statement=statement)))


def new_modules(statement_module: str) -> set[str]:
    """Names ``import statement_module`` adds to a fresh interpreter's ``sys.modules``."""
    return set(json.loads(_run(_NEW_MODULES.format(module=statement_module))))


def _root(name: str) -> str:
    return name.partition(".")[0]


def offenders(loaded: set[str], dependencies: set[str]) -> list[str]:
    """Modules in ``loaded`` that are neither stdlib, an allowed package, nor one of their dependencies."""
    stdlib = sys.stdlib_module_names
    allowed_roots = ALLOWED_ROOTS | {_root(name) for name in dependencies}
    bad = {name for name in loaded if _root(name) not in stdlib and _root(name) not in allowed_roots}
    bad |= {name for name in loaded if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)}
    return sorted(bad)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    argv = [arg for arg in argv if arg != "--quick"]
    runs = 3 if quick else max(MIN_RUNS, int(argv[1]) if len(argv) > 1 else DEFAULT_RUNS)
    pipepilot_times: list[float] = []
    boto3_times: list[float] = []
    typical_times: list[float] = []
    for _ in range(runs):
        pipepilot_times.append(time_import("pipepilot"))
        boto3_times.append(time_import("boto3"))
        typical_times.append(time_statement(_TYPICAL_IMPORT))
    ours = statistics.median(pipepilot_times)
    theirs = statistics.median(boto3_times)
    ratio = ours / theirs
    print(f"runs: {runs} fresh interpreters each")
    print(f"import pipepilot: median {ours * 1000:7.1f} ms (min {min(pipepilot_times) * 1000:.1f})")
    print(f"import boto3:     median {theirs * 1000:7.1f} ms (min {min(boto3_times) * 1000:.1f})")
    print(
        f"ratio pipepilot / boto3: {ratio:.2f} (target <= {MAX_RATIO:.2f}) {'OK' if ratio <= MAX_RATIO else 'MISSED'}"
    )
    typical = statistics.median(typical_times)
    print(
        f"for the record, {_TYPICAL_IMPORT}: median {typical * 1000:.1f} ms, "
        f"{typical / theirs:.2f} x import boto3 (boto3 itself loads when the first client is created)"
    )

    loaded = new_modules("pipepilot")
    dependencies = new_modules("boto3, attrs, tenacity")
    bad = offenders(loaded, dependencies)
    third_party = sorted({_root(n) for n in loaded} - set(sys.stdlib_module_names))
    print(f"modules loaded by import pipepilot: {len(loaded)}; third-party roots: {', '.join(third_party)}")
    print(f"boto3 loaded: {'boto3' in loaded}")
    if bad:
        print(f"OFFENDERS ({len(bad)}): {', '.join(bad)}")
    else:
        print(
            "module check OK: nothing beyond pipepilot, boto3/botocore (+ their dependencies), attrs, tenacity, stdlib"
        )
    if quick:
        print("quick mode: figures above are indicative only; no target is checked")
        return 0
    return 0 if ratio <= MAX_RATIO and not bad else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
