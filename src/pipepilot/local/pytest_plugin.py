"""pytest plugin (entry point ``pipepilot_local``): the ``offline_aws`` fixture.

pytest loads this module for every test run of anyone who installed ``pipepilot[local]``, so it imports
nothing heavy: moto, botocore and the engines load only when a test asks for the fixture.

Options come from an optional marker, the keyword arguments of :func:`pipepilot.local.offline`::

    @pytest.mark.pipepilot_offline(
        region="eu-west-1", seed=7, codepipeline_settings=CodePipelineSettings(concurrent_execution_cap=5)
    )
    def test_release(offline_aws): ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pipepilot.local import OfflineAWS

__all__ = ["offline_aws"]

_MARKER = "pipepilot_offline"


def pytest_configure(config: pytest.Config) -> None:
    """Register the options marker, so ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**options): options for the offline_aws fixture "
        "(region, account_id, seed, speed, start, codepipeline_settings, call_latency), as for "
        "pipepilot.local.offline()",
    )


@pytest.fixture
def offline_aws(request: pytest.FixtureRequest) -> Iterator[OfflineAWS]:
    """An active :func:`pipepilot.local.offline` context: real boto3 clients are served offline.

    Yields the :class:`~pipepilot.local.OfflineAWS` handle (virtual clock, scripting, fault plan). The
    context ends, and everything it patched is restored, when the test finishes.
    """
    from pipepilot.local import offline

    marker = request.node.get_closest_marker(_MARKER)
    options = dict(marker.kwargs) if marker is not None else {}
    with offline(**options) as aws:
        yield aws
