"""Fault soak: freeze -> thaw and stage retries over hundreds of seeds, counting duplicate effects and lies.

The scenario is the one of ``tests/library/functional/test_fault_soak.py`` (read its docstring): six pipelines
frozen at Prod and thawed, a failing stage retried until its execution succeeds, while the offline fault
plan throttles, fails with 5xx (before and after applying the call), drops connections and loses responses.
The engine's dispatch counts what was applied, so each run is judged against the truth.

Three plans are run, each over ``--seeds`` seeds:

* ``moderate``, one worker: about two calls in five meet a fault (the CI test's plan);
* ``moderate``, four workers: the same, with the fleet's calls on four threads;
* ``harsh``, one worker: about two calls in three meet a fault, so the retry policy runs out and reading
  back fails too; records must still tell the truth (what is not done is said to be not done).

Target (issue 8): 0 duplicate effects and 0 lying records in every run. Printed: runs, faults injected,
ambiguous write answers (a 5xx or a lost response to a disable, enable or retry; "applied" = AWS had
applied it), duplicate effects, lies, freeze and thaw passes (more than the runs: some needed a resume or a
second thaw), and how many runs ended complete (freeze complete, thawed, execution retried to success)
after at most four passes each.

Run: ``python benchmarks/bench_fault_soak.py [--seeds 200]``. Exit status 1 if any run doubled an effect or lied.
``--quick`` runs 3 seeds per plan, to check that it still runs (as CI does).
"""

from __future__ import annotations

import argparse
import json
import logging
import pathlib
import sys
import time
from typing import Any

# The scenario lives in the test suite (a package): import it from the repository's root.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from tests.library.functional.test_fault_soak import FAULTS, SoakOutcome, soak_run

HARSH: tuple[dict[str, Any], ...] = (
    {"error": "lost-response", "rate": 0.15},
    {"error": "InternalFailure", "applied": True, "rate": 0.12},
    {"error": "ServiceUnavailable", "rate": 0.12},
    {"error": "connection", "rate": 0.08},
    {"error": "ThrottlingException", "rate": 0.25},
)

PLANS: tuple[tuple[str, tuple[dict[str, Any], ...], int], ...] = (
    ("moderate", FAULTS, 1),
    ("moderate", FAULTS, 4),
    ("harsh", HARSH, 1),
)


def _summary(name: str, workers: int, outcomes: list[SoakOutcome], seconds: float) -> dict[str, Any]:
    return {
        "plan": name,
        "workers": workers,
        "runs": len(outcomes),
        "faults_injected": sum(o.injected for o in outcomes),
        "ambiguous_write_answers": sum(o.ambiguous_writes for o in outcomes),
        "of_which_applied": sum(o.applied_unanswered for o in outcomes),
        "duplicate_effects": sum(len(o.duplicates) for o in outcomes),
        "lies": sum(len(o.lies) for o in outcomes),
        "freeze_passes": sum(o.freeze_runs for o in outcomes),
        "thaw_passes": sum(o.thaw_runs for o in outcomes),
        "freeze_complete": sum(o.freeze_complete for o in outcomes),
        "thawed": sum(o.thawed for o in outcomes),
        "retried_to_success": sum(o.retry_succeeded for o in outcomes),
        "retry_calls": sum(o.retry_calls for o in outcomes),
        "retry_fate_unknown": sum(o.retry_unknown for o in outcomes),
        "wall_seconds": round(seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200, help="seeds per plan (default 200)")
    parser.add_argument("--quick", action="store_true", help="3 seeds per plan: checks it still runs")
    args = parser.parse_args()
    if args.quick:
        args.seeds = 3
    # Retries under faults are the point here: their warnings would drown the figures.
    logging.getLogger("pipepilot").setLevel(logging.ERROR)
    failures = 0
    for name, faults, workers in PLANS:
        started = time.perf_counter()
        outcomes = [soak_run(seed, faults=faults, max_workers=workers) for seed in range(args.seeds)]
        summary = _summary(name, workers, outcomes, time.perf_counter() - started)
        print(json.dumps(summary))
        for outcome in outcomes:
            if outcome.duplicates or outcome.lies:
                failures += 1
                print(f"  seed {outcome.seed}: duplicates={outcome.duplicates} lies={outcome.lies}")
    print("PASS: 0 duplicate effects, 0 lies" if not failures else f"FAIL: {failures} run(s) doubled or lied")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
