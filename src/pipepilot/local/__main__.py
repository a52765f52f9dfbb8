"""``python -m pipepilot.local``: the offline engine's coverage, and ``serve``: the offline world over HTTP.

``python -m pipepilot.local serve [--host H] [--port P] [--speed S] [--region R] [--seed N] [-v]`` serves a
fresh offline world (see :func:`pipepilot.local.server.serve`) until Ctrl-C (exit status 130) or SIGTERM
(exit status 0); a port that cannot be listened on exits 1 with a one-line message. It needs only the
``local`` extra, not the ``cli`` one.

Without a subcommand it prints which CodePipeline and CodeBuild operations the engine answers: by default
one line per operation, ``+`` when the engine answers it and ``-`` when it does not (inside
:func:`pipepilot.local.offline` those answer ``UnknownOperationException``). ``--markdown`` prints
:func:`pipepilot.local.coverage_table` instead: the table ``docs/local.md`` carries.

The operation lists come from botocore's service models and the engines themselves, so the output always
matches the installed versions. Nothing starts: no moto, no clock, no network.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["coverage_text", "main"]


def coverage_text() -> str:
    """The coverage of both engines as plain text: a heading per service, then ``+``/``-`` per operation."""
    from pipepilot.local import _operation_coverage

    sections: list[str] = []
    for title, operations in _operation_coverage():
        answered = sum(done for _, done in operations)
        lines = [f"{title}: {answered} of {len(operations)} operations answered"]
        lines += [f"  {'+' if done else '-'} {name}" for name, done in operations]
        sections.append("\n".join(lines))
    footer = "Operations marked - are not emulated: inside pipepilot.local.offline() they answer UnknownOperationException."
    return "\n\n".join([*sections, footer]) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the coverage (``--markdown``: as the Markdown table of the docs), or ``serve``; returns the exit
    status."""
    parser = argparse.ArgumentParser(
        prog="python -m pipepilot.local",
        description="List the CodePipeline and CodeBuild operations pipepilot's offline engine answers, "
        "or serve the offline world over HTTP (serve).",
    )
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print the Markdown table of pipepilot.local.coverage_table() (the one in docs/local.md)",
    )
    commands = parser.add_subparsers(dest="command", metavar="{serve}")
    _add_serve_command(commands)
    options = parser.parse_args(argv)
    if options.command == "serve":
        return _serve(options)
    if options.markdown:
        from pipepilot.local import coverage_table

        text = coverage_table()
    else:
        text = coverage_text()
    sys.stdout.write(text)
    return 0


def _add_serve_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``serve`` subcommand's options (the same as ``pipepilot local serve``'s)."""
    from pipepilot.local.server import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SPEED

    serve = commands.add_parser(
        "serve",
        help="serve the offline world over HTTP for the AWS CLI, other SDKs and other processes",
        description="Serve a fresh offline world over HTTP: CodePipeline and CodeBuild answered by "
        "pipepilot's engines, S3, IAM, SNS, Logs, EventBridge, ... by moto, all on one port; the admin "
        "endpoint is under /_pipepilot/ (see docs/local.md). Ctrl-C exits 130, SIGTERM exits 0.",
    )
    serve.add_argument(
        "--host", default=DEFAULT_HOST, help=f"interface to listen on (default {DEFAULT_HOST})"
    )
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free port)"
    )
    serve.add_argument(
        "--speed",
        type=float,
        default=DEFAULT_SPEED,
        help="virtual seconds per wall second (default 1: real time; 60: a minute a second; "
        "0: the clock moves only through the admin endpoint)",
    )
    serve.add_argument("--region", default="us-east-1", help="the world's region (default us-east-1)")
    serve.add_argument("--seed", type=int, default=0, help="seed of ids and tokens (default 0)")
    serve.add_argument(
        "-v", "--verbose", action="store_true", help="log every request (service, operation, status, time)"
    )


def _serve(options: argparse.Namespace) -> int:
    """Run ``serve``; a one-line message and exit status 1 (2 for bad options) instead of a traceback."""
    if options.verbose:
        logging.basicConfig(format="%(asctime)s %(message)s", level=logging.WARNING)
        logging.getLogger("pipepilot.local.server").setLevel(logging.DEBUG)
    try:
        from pipepilot.local.server import serve
    except ModuleNotFoundError as error:  # pragma: no cover (the test environment has the extra)
        sys.stderr.write(f"python -m pipepilot.local serve: {error}; install pipepilot[local]\n")
        return 1
    try:
        return serve(
            host=options.host,
            port=options.port,
            speed=options.speed,
            region=options.region,
            seed=options.seed,
        )
    except ValueError as error:
        sys.stderr.write(f"python -m pipepilot.local serve: {error}\n")
        return 2
    except OSError as error:
        sys.stderr.write(
            f"python -m pipepilot.local serve: cannot listen on {options.host}:{options.port}: "
            f"{error.strerror or error}\n"
        )
        return 1
    except ModuleNotFoundError as error:
        sys.stderr.write(f"python -m pipepilot.local serve: {error}; install pipepilot[local]\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
