"""Fixtures of the Lambda examples' tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ..library.functional.offline_world import World

if TYPE_CHECKING:
    from pipepilot.local import OfflineAWS


@pytest.fixture
def world(offline_aws: OfflineAWS) -> World:
    """An offline account with a role, buckets and a build project (see ``offline_world.World``)."""
    return World.open(offline_aws)
