"""``python -m pipepilot.local``: which CodePipeline and CodeBuild operations the offline engine answers.

By default one line per operation, ``+`` when the engine answers it and ``-`` when it does not (inside
:func:`pipepilot.local.offline` those answer ``UnknownOperationException``). ``--markdown`` prints
:func:`pipepilot.local.coverage_table` instead: the table ``docs/local.md`` carries.

The operation lists come from botocore's service models and the engines themselves, so the output always
matches the installed versions. Nothing starts: no moto, no clock, no network.
"""

from __future__ import annotations

import argparse
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
    """Print the coverage (``--markdown``: as the Markdown table of the docs); returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m pipepilot.local",
        description="List the CodePipeline and CodeBuild operations pipepilot's offline engine answers.",
    )
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print the Markdown table of pipepilot.local.coverage_table() (the one in docs/local.md)",
    )
    options = parser.parse_args(argv)
    if options.markdown:
        from pipepilot.local import coverage_table

        text = coverage_table()
    else:
        text = coverage_text()
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
