"""The base of the scheduler's collaborators: what every part shares with the coordinator that owns it."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

    from pipepilot.local.clock import Timer
    from pipepilot.local.codepipeline._host import EngineWorld
    from pipepilot.local.codepipeline._scheduler import Scheduler
    from pipepilot.local.codepipeline._settings import CodePipelineSettings

__all__ = ["Part"]

_T = TypeVar("_T")


class Part:
    """One concern of the :class:`~pipepilot.local.codepipeline._scheduler.Scheduler`.

    A part keeps a reference to the scheduler, through which it reaches the other parts (``self._rt.jobs``)
    and the shared state: the World, the region, the settings (which a user may replace at any time) and
    the engine clock.
    """

    __slots__ = ("_rt", "region", "world")

    def __init__(self, rt: Scheduler) -> None:
        self._rt = rt
        self.world: EngineWorld = rt.world
        self.region: str = rt.region

    @property
    def settings(self) -> CodePipelineSettings:
        """The engine's current settings."""
        return self._rt.settings

    def now(self) -> float:
        """The engine's virtual now (frozen for the unit of work in progress)."""
        return self._rt.clock.now()

    def later(self, delay: float, callback: Callable[[], object]) -> Timer:
        """Run ``callback`` on the clock after ``delay`` seconds, as engine work."""
        return self._rt.clock.later(delay, callback)

    def serve(self, work: Callable[[], _T]) -> _T:
        """Run ``work`` as one unit of engine work, under the clock's lock."""
        return self._rt.clock.serve(work)

    def hex_id(self, length: int) -> str:
        """``length`` lowercase hex digits from the World's seeded generator."""
        return self._rt.clock.hex_id(length)
