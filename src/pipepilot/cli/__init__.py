"""The ``pipepilot`` command: watch, approve, freeze, build logs and validate, from a terminal or CI.

It is an optional extra (``pip install 'pipepilot[cli]'``: click parses the command line, rich draws the live
view), so that ``import pipepilot`` stays light. This module imports neither: :func:`main` loads the command
when it runs, and without click it says which extra to install and exits 255. See ``docs/cli.md`` for the
commands, their JSON output and their exit codes.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["MISSING_CLI_EXTRA", "main"]

#: What ``pipepilot`` prints (on stderr) when click is not installed; it then exits 255.
MISSING_CLI_EXTRA = (
    "pipepilot: the command line needs the 'cli' extra; install it with: pip install 'pipepilot[cli]'"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pipepilot`` command with ``argv`` (default: ``sys.argv[1:]``); return its exit status.

    The exit statuses are those of the AWS CLI for errors (130 interrupted, 252 bad syntax or parameter,
    253 configuration or credentials, 254 service error, 255 anything else), and for ``watch``, ``start
    --wait`` and ``build watch`` 0 succeeded, 1 failed, 3 stopped, superseded or cancelled, 4 timed out.
    """
    try:
        import click  # noqa: F401  (the check: the command below needs it)
    except ImportError:
        print(MISSING_CLI_EXTRA, file=sys.stderr)
        return 255
    from pipepilot.cli._app import run

    return run(argv)
