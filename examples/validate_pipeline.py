"""Check a pipeline definition locally, before AWS sees it.

Reads a definition in either form the AWS CLI uses (the output of ``aws codepipeline get-pipeline``, or the
``--cli-input-json`` file ``{"pipeline": {...}}``), prints a summary of the typed model and every problem
found at once, each with its path and a stable code. Exits 1 when there are problems, so it can gate a
change in CI, and 2 when the file cannot be read as a pipeline definition::

    python examples/validate_pipeline.py pipeline.json [--region eu-west-1] [--default-type V1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipepilot.errors import InvalidStructureError
from pipepilot.model import PipelineDocument


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("definition", type=Path, help="a get-pipeline output or --cli-input-json file")
    parser.add_argument("--region", help="the pipeline's region, for the cross-region rules")
    parser.add_argument(
        "--default-type",
        default="V2",
        choices=("V1", "V2"),
        help="the type assumed when the definition names none; AWS makes a declaration with V2 features V2 (default: %(default)s)",
    )
    args = parser.parse_args(argv)

    try:
        document = PipelineDocument.from_json(args.definition.read_bytes())
    except (OSError, InvalidStructureError) as exc:
        print(f"{args.definition}: {exc}", file=sys.stderr)
        return 2
    declaration = document.declaration
    print(declaration.summary())

    problems = declaration.problems(region=args.region, default_pipeline_type=args.default_type)
    if not problems:
        print("\nNo problems found.")
        return 0
    print(f"\n{len(problems)} problem(s):")
    for problem in problems:
        print(f"  {problem}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
