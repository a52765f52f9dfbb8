"""Where the suite's recorded payloads and declarations live, and a reader for them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"

# A build's phases in the order CodeBuild runs them (what BatchGetBuilds lists), written out here rather
# than taken from the engine, so that tests check the engine against AWS and not against itself.
CODEBUILD_PHASES = [
    "SUBMITTED",
    "QUEUED",
    "PROVISIONING",
    "DOWNLOAD_SOURCE",
    "INSTALL",
    "PRE_BUILD",
    "BUILD",
    "POST_BUILD",
    "UPLOAD_ARTIFACTS",
    "FINALIZING",
    "COMPLETED",
]


def load_json(relative: str) -> Any:
    """The JSON file at ``relative`` below ``tests/data``, parsed."""
    return json.loads((DATA / relative).read_text(encoding="utf-8"))
