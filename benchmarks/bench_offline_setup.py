"""What entering and leaving ``pipepilot.local.offline()`` costs, next to moto's own set-up (issue 9).

Every test of the offline engine pays for one world, so this is the suite's per-test set-up. Four figures,
each the median of ``--runs`` interleaved iterations (one iteration = one world entered and left):

1. ``with offline(): pass`` against ``with moto.mock_aws(): pass``, moto's own start and stop, which
   ``offline()`` runs inside it (the floor). Target: <= 2.5 x (before issue 9: 4-5 x).
2. A world as a test uses it: enter, three clients (``aws.client("codepipeline")``, ``"iam"``, ``"s3"``),
   leave; against the cheapest moto set-up with the same clients: ``mock_aws()`` and three new clients from
   one boto3 session kept for the whole run (its models already loaded; the clients, like every boto3
   client, each cost botocore a few milliseconds). Target: <= 2.0 x (before: 5 x).
3. The session each world makes (``pipepilot._calls.new_session``: dummy credentials, shared model loader,
   a copy of botocore's built-in handlers) against ``boto3.session.Session()``. Target: <= 0.3 x.
4. For the record: 100 worlds entered and left one after another, in ms (``--runs`` worlds in quick mode).

    .venv/bin/python benchmarks/bench_offline_setup.py
    .venv/bin/python benchmarks/bench_offline_setup.py --quick    # 5 iterations: checks that it runs

Exits 1 when a target is missed (never with ``--quick``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import TYPE_CHECKING, Any

import boto3
from moto import mock_aws

import pipepilot.local
from pipepilot import _calls

if TYPE_CHECKING:
    from collections.abc import Callable

MAX_EMPTY_RATIO = 2.5
MAX_CLIENTS_RATIO = 2.0
MAX_SESSION_RATIO = 0.3
_SERVICES = ("codepipeline", "iam", "s3")


def _empty_offline() -> None:
    with pipepilot.local.offline():
        pass


def _empty_moto() -> None:
    with mock_aws():
        pass


def _offline_with_clients() -> None:
    with pipepilot.local.offline() as aws:
        for service in _SERVICES:
            aws.client(service)


_kept_session: list[boto3.session.Session] = []


def _moto_with_clients() -> None:
    with mock_aws():
        if not _kept_session:
            _kept_session.append(
                boto3.session.Session(
                    region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
                )
            )
        for service in _SERVICES:
            _kept_session[0].client(service)  # type: ignore[call-overload]


def _pipepilot_session() -> None:
    _calls.new_session(credentials=("testing", "testing"))


def _boto3_session() -> None:
    boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


def _medians(pairs: dict[str, tuple[Callable[[], None], Callable[[], None]]], runs: int) -> dict[str, Any]:
    """Median seconds of each side of each pair, the sides and pairs interleaved run by run."""
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in pairs}
    for _ in range(runs):
        for name, sides in pairs.items():
            for side, function in enumerate(sides):
                started = time.perf_counter()
                function()
                times[name][side].append(time.perf_counter() - started)
    return {name: (statistics.median(ours), statistics.median(base)) for name, (ours, base) in times.items()}


def main(argv: list[str] | None = None) -> int:
    """Measure, print the figures; return 1 if a target is missed (never with ``--quick``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=100, help="iterations of each measurement (default 100)")
    parser.add_argument(
        "--quick", action="store_true", help="5 iterations, to check that it works; no verdict"
    )
    args = parser.parse_args(argv)
    runs = 5 if args.quick else max(11, args.runs)
    # Warm up: the first world imports moto's backends and the engines, the first session loads models.
    _offline_with_clients()
    _moto_with_clients()
    pairs = {
        "offline() entered and left, against mock_aws()": (_empty_offline, _empty_moto),
        "offline() + 3 clients, against mock_aws() + 3 clients of a kept boto3 session": (
            _offline_with_clients,
            _moto_with_clients,
        ),
        "new_session(), against boto3.session.Session()": (_pipepilot_session, _boto3_session),
    }
    targets = (MAX_EMPTY_RATIO, MAX_CLIENTS_RATIO, MAX_SESSION_RATIO)
    missed = False
    for (name, (ours, base)), target in zip(_medians(pairs, runs).items(), targets, strict=True):
        ratio = ours / base
        verdict = "OK" if ratio <= target else "MISSED"
        missed = missed or ratio > target
        print(
            f"{name}: {ours * 1000:.2f} ms / {base * 1000:.2f} ms = {ratio:.2f} x (target <= {target}) {verdict}"
        )
    worlds = runs if args.quick else 100
    started = time.perf_counter()
    for _ in range(worlds):
        _empty_offline()
    print(f"{worlds} worlds entered and left in a row: {(time.perf_counter() - started) * 1000:.0f} ms")
    if args.quick:
        print("quick mode: figures above are indicative only; no target is checked")
        return 0
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
