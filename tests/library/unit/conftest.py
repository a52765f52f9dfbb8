"""Fixtures of the library's unit tests, registered once for every module of this folder."""

from __future__ import annotations

import types

import botocore.endpoint
import pytest

from .fake_time import FakeTime


@pytest.fixture
def fake_time() -> FakeTime:
    """A time source at t=1000 that moves only when slept on, recording each sleep."""
    return FakeTime(1000.0)


@pytest.fixture
def botocore_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's own retries sleep real seconds in ``botocore.endpoint``; record them instead."""
    sleeps: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=sleeps.append))
    return sleeps
