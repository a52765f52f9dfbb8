"""Suite-wide guards: no AWS settings from the machine, and (via pytest-socket) no network; the quick run.

Every test runs as a new user's code would on a machine with no AWS settings at all: no region, no
profile, no credentials, no config files. Offline tests need nothing more (``pipepilot.local.offline()``
gives its clients a region and dummy credentials); tests of online behaviour set what they need
themselves (``region_name=``, ``monkeypatch.setenv``).

Tests marked ``slow`` (the seeded soaks, the examples and the fleet benchmark run as subprocesses,
real-time and property-heavy tests) are left out of a plain ``pytest`` run, which stays quick; ``--run-slow``
runs them too (CI and the README's command do), and ``-m slow`` runs only them.
"""

from __future__ import annotations

import os

import boto3
import pytest
from hypothesis import settings

# CI replays the same examples every run (no flaky red builds) and keeps no example database on disk.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--run-slow``: run the tests marked ``slow`` too (the whole suite, as CI does)."""
    parser.addoption(
        "--run-slow",
        action="store_true",
        help="also run the tests marked slow (soaks, examples, real-time and property-heavy tests), as CI does",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the ``slow`` tests unless ``--run-slow`` is given or ``-m`` chooses by marker itself."""
    if config.getoption("--run-slow") or config.getoption("markexpr"):
        return
    slow = [item for item in items if item.get_closest_marker("slow") is not None]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if item.get_closest_marker("slow") is None]


@pytest.fixture(autouse=True)
def _no_aws_settings(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test starts with no AWS_* variable, and no ~/.aws config or credentials file to fall back on."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    # botocore reads ~/.aws/config and ~/.aws/credentials when nothing else is set: point both at a file
    # that does not exist, so a developer's own profile never answers for a test.
    missing = tmp_path_factory.getbasetemp() / "no-aws-config" / "absent"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(missing))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(missing))
    # boto3's default session (which pipepilot's facades share) caches what it resolved: each test gets
    # a new one, as a new process would.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy AWS credentials in the environment, for tests of online code that sign requests (no region)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
