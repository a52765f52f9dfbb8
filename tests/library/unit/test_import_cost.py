"""``import pipepilot`` stays cheap: it loads only its runtime dependencies and the standard library.

Timing lives in ``benchmarks/bench_import.py``; these tests check the module set, which is deterministic.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

_NEW_MODULES = (
    "import json, sys; before = set(sys.modules); import {module}; "
    "print(json.dumps(sorted(set(sys.modules) - before)))"
)
_ALLOWED_ROOTS = frozenset({"pipepilot", "boto3", "botocore", "attr", "attrs", "tenacity"})


def _new_modules(module: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _NEW_MODULES.format(module=module)], check=True, capture_output=True, text=True
    )
    return set(json.loads(done.stdout))


def _root(name: str) -> str:
    return name.partition(".")[0]


# ``pipepilot.pipelines`` is listed too so the seam's own cost is checked whatever ``__init__`` re-exports.
@pytest.fixture(scope="module", params=["pipepilot", "pipepilot.pipelines"])
def loaded(request: pytest.FixtureRequest) -> set[str]:
    """Modules a fresh interpreter gains from importing the package (or the facade module)."""
    module: str = request.param
    return _new_modules(module)


def test_import_loads_nothing_beyond_runtime_dependencies_and_stdlib(loaded: set[str]) -> None:
    """Every module is stdlib, pipepilot, boto3/botocore/attrs/tenacity, or something those load themselves."""
    dependencies = {_root(name) for name in _new_modules("boto3, attrs, tenacity")}
    allowed = _ALLOWED_ROOTS | dependencies | set(sys.stdlib_module_names)
    offenders = sorted(name for name in loaded if _root(name) not in allowed)
    assert offenders == []


# Optional or test-only parts ``import pipepilot`` must not load. The offline engine's command line
# (``python -m pipepilot.local``) is part of ``pipepilot.local``.
_OPTIONAL = ("moto", "pipepilot.local", "mypy_boto3_codepipeline", "pytest", "hypothesis")


def test_every_optional_part_named_exists() -> None:
    """Every module kept out of ``import pipepilot`` exists: a stale name would keep nothing out."""
    missing = [name for name in _OPTIONAL if importlib.util.find_spec(name) is None]
    assert missing == []


def test_import_loads_no_optional_or_test_only_parts(loaded: set[str]) -> None:
    """The offline engine (and its command line), moto and typing stubs are imported only when asked for."""
    found = sorted(name for name in loaded if any(name == f or name.startswith(f + ".") for f in _OPTIONAL))
    assert found == []


def test_import_defers_boto3(loaded: set[str]) -> None:
    """boto3 (most of the cost) is imported on first client creation, not by ``import pipepilot``."""
    assert "boto3" not in loaded
    assert "botocore.session" not in loaded


_FIRST_CLIENT = (
    "import json, sys; before = set(sys.modules); import pipepilot; "
    "pipepilot.{facade}(region_name='us-east-1').client; "
    "print(json.dumps(sorted(set(sys.modules) - before)))"
)


@pytest.mark.parametrize("facade", ["CodePipeline", "CodeBuild"])
def test_first_client_loads_neither_attrs_tenacity_nor_the_models(tmp_path: Path, facade: str) -> None:
    """``CodePipeline(...).client`` and ``CodeBuild(...).client`` load boto3 and the facade, not attrs,
    tenacity, models, handles or waits.

    Those load with the first call or handle that needs them; the first client costs what boto3's does.
    """
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_CLIENT.format(facade=facade)],
        check=True,
        capture_output=True,
        text=True,
        env=environment,
    )
    loaded = set(json.loads(done.stdout))
    assert "boto3" in loaded
    heavy = (
        "attr",
        "attrs",
        "tenacity",
        "pipepilot.model",
        "pipepilot.polling",
        "pipepilot.approvals",
        "pipepilot.builds",
    )
    found = sorted(name for name in loaded if any(name == h or name.startswith(h + ".") for h in heavy))
    assert found == []


def test_awslambda_import_loads_no_client_machinery_engine_or_slack() -> None:
    """``import pipepilot.awslambda`` (a Lambda cold start pays for it) loads neither boto3 nor botocore's
    client machinery, moto, the offline engine nor slack_sdk, and none of the heavy pipepilot modules."""
    loaded = _new_modules("pipepilot.awslambda")
    heavy = (
        "boto3",
        "botocore",
        "moto",
        "pipepilot.local",
        "slack_sdk",
        "pipepilot.pipelines",
        "pipepilot.model",
    )
    assert sorted(name for name in loaded if any(name == h or name.startswith(h + ".") for h in heavy)) == []
