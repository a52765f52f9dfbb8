"""Where the suite's recorded payloads and declarations live, and a reader for them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"


def load_json(relative: str) -> Any:
    """The JSON file at ``relative`` below ``tests/data``, parsed."""
    return json.loads((DATA / relative).read_text(encoding="utf-8"))
