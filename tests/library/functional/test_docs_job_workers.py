"""docs/job-workers.md stays true: its marked examples run, and the names it documents exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pipepilot.awslambda
from pipepilot.awslambda import FailureType
from pipepilot.awslambda._jobs import reset_answered_jobs

ROOT = next(folder for folder in Path(__file__).resolve().parents if (folder / "pyproject.toml").is_file())
DOC = ROOT / "docs" / "job-workers.md"
_MARKED_BLOCK = re.compile(r"<!-- test: (?P<name>[a-z0-9-]+) -->\n```python\n(?P<code>.*?)\n```\n", re.DOTALL)
JOB_NAMES = (
    "ArtifactCredentials",
    "Artifacts",
    "FailureType",
    "InProgress",
    "InputArtifact",
    "Job",
    "JobArtifact",
    "JobFailure",
    "JobOutcome",
    "OutputArtifact",
    "Success",
    "job_worker",
)


def _examples() -> dict[str, str]:
    return {
        match["name"]: match["code"] + "\n"
        for match in _MARKED_BLOCK.finditer(DOC.read_text(encoding="utf-8"))
    }


def test_the_worker_example_runs_offline_as_the_doc_says() -> None:
    """The worker of the first example, run by the offline example, takes its deployment to success."""
    reset_answered_jobs()
    namespace: dict[str, Any] = {"__name__": "docs_job_workers"}
    examples = _examples()
    assert sorted(examples) == ["job-worker", "job-worker-offline"]
    exec(compile(examples["job-worker"], f"{DOC}#job-worker", "exec"), namespace)
    exec(compile(examples["job-worker-offline"], f"{DOC}#job-worker-offline", "exec"), namespace)
    reset_answered_jobs()


def test_every_job_worker_name_and_failure_type_is_documented() -> None:
    """Each job-worker name ``pipepilot.awslambda`` exports, and each FailureType member, is in the doc."""
    text = DOC.read_text(encoding="utf-8")
    assert set(JOB_NAMES) <= set(pipepilot.awslambda.__all__)
    assert [name for name in JOB_NAMES if name not in text] == []
    assert [member.name for member in FailureType if f"`{member.name}`" not in text] == []
