"""The execution machine of the CodePipeline engine: stages, locks, actions, conditions, jobs, events.

Everything here runs under the clock's lock, either inside a request (called by
:class:`~pipepilot.local.codepipeline.CodePipelineEngine`) or inside a timer callback. Work that takes
time is a timer; nothing completes synchronously inside the call that started it, so a request never
re-enters the scheduler half-way through a state change. The one exception is user code: a Lambda
handler is called from an unlocked timer, outside the lock, so it may call the engine from any thread.

The scheduler is a thin coordinator: it holds what every part shares (the World, the region, the settings
and the engine clock) and one collaborator per concern. Each part keeps a reference back to it and reaches
the others through it:

* ``clock`` (:mod:`._clock`): engine time, frozen per unit of work, and timers that run as engine work;
* ``events`` (:mod:`._events`): EventBridge state-change events and SNS approval notifications;
* ``executions`` (:mod:`._executions`): start, move between stages, finish, stop, retry, cancel, forget;
* ``actions`` (:mod:`._actions`): action runs, their outputs and their end;
* ``sources`` (:mod:`._sources`): source revisions and source actions;
* ``builds`` (:mod:`._builds`): CodeBuild actions;
* ``approvals`` (:mod:`._approvals`): manual approvals;
* ``jobs`` (:mod:`._jobs`): Lambda invoke and custom action jobs;
* ``conditions`` (:mod:`._conditions`): stage conditions and their rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipepilot.local.codepipeline._actions import Actions
from pipepilot.local.codepipeline._approvals import Approvals
from pipepilot.local.codepipeline._builds import BuildActions
from pipepilot.local.codepipeline._clock import EngineClock
from pipepilot.local.codepipeline._conditions import Conditions
from pipepilot.local.codepipeline._events import Events
from pipepilot.local.codepipeline._executions import Executions
from pipepilot.local.codepipeline._jobs import Jobs
from pipepilot.local.codepipeline._sources import Sources

if TYPE_CHECKING:
    from pipepilot.local.codepipeline._host import EngineWorld
    from pipepilot.local.codepipeline._settings import CodePipelineSettings

__all__ = ["Scheduler"]


class Scheduler:
    """Runs executions for every pipeline of one engine (one account and region)."""

    def __init__(self, world: EngineWorld, region: str, settings: CodePipelineSettings) -> None:
        self.world = world
        self.region = region
        #: The engine's settings; a user may replace them at any time (every part reads them from here).
        self.settings = settings
        self.clock = EngineClock(world)
        self.events = Events(self)
        self.executions = Executions(self)
        self.actions = Actions(self)
        self.sources = Sources(self)
        self.builds = BuildActions(self)
        self.approvals = Approvals(self)
        self.jobs = Jobs(self)
        self.conditions = Conditions(self)
