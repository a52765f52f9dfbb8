"""Live CodeBuild objects: :class:`Project` and :class:`Build` handles, their waits and logs.

The :class:`~pipepilot.CodeBuild` facade (in :mod:`pipepilot.codebuild`) stands for CodeBuild (and the
CloudWatch Logs its builds write to) in one account and region, and hands these handles out. Its boto3 clients are injected, or created on first use (never at import), behind pipepilot's one
I/O seam (:mod:`pipepilot._calls`), which translates errors and retries what is safe to retry. It hands out
typed build data (:class:`~pipepilot.model.build.BuildDetails`, called *build details* below) and *handles*: a
:class:`Project` is a project name, a :class:`Build` a build id, each with the facade; neither makes a call
until one of its methods needs one.

::

    codebuild = CodeBuild(region_name="eu-west-1")            # no client yet
    build = codebuild.project("web").start(env={"STAGE": "prod"})   # StartBuild (idempotent)
    details = build.wait(on_phase=lambda phase: print(phase.phase_type))
    for line in build.logs():                                 # GetLogEvents, page by page
        print(line)

Waiting economically
--------------------
:meth:`Build.wait` makes one ``BatchGetBuilds`` call per poll, on a :class:`~pipepilot.polling.PollPolicy`
(short first interval, growing with the time waited, with jitter): it notices the end within 30 s during
the first two hours, then within 2 % of the time waited. Without a timeout it stops after the build's own
timeouts. A policy with ``sparse_interval`` also reads the project's recent builds in the first
``BatchGetBuilds`` call (one ``ListBuildsForProject`` call finds them): their durations predict when this
build will end, and polling stays that sparse until shortly before then. Phases are read from
the build's phase list, not from its current phase, so no phase goes unreported however sparse the polls.
Throttling slows polling down instead of failing the wait. The clock and the sleep are the facade's
(``CodeBuild(clock=..., sleep=...)``), else pipepilot's time
source (virtual inside :func:`pipepilot.local.offline`).

Many builds at once
-------------------
``BatchGetBuilds`` takes at most 100 ids. :meth:`CodeBuild.get_builds`, :meth:`CodeBuild.refresh` and
:meth:`Project.builds` cut their ids into batches of 100: refreshing 250 builds is 3 calls.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import attrs

from pipepilot._checks import check_wait_options
from pipepilot._handles import check_request
from pipepilot.codebuild import BATCH_SIZE
from pipepilot.errors import (
    BuildFailed,
    PipepilotError,
    ResourceNotFoundError,
    TransientError,
    WaitTimeout,
)
from pipepilot.model.build import BuildDetails, BuildStatus
from pipepilot.polling import (
    Forecast,
    PollPolicy,
    PollSchedule,
    build_timeout,
    poll_jitter,
    wait_policy,
    wait_timing,
    wait_until,
)

if TYPE_CHECKING:
    from pipepilot.codebuild import CodeBuild
    from pipepilot.model.build import BuildPhase
    from pipepilot.polling import Step

__all__ = ["Build", "EnvironmentValue", "LogLine", "Project"]

logger = logging.getLogger(__name__)

#: How many of the project's recent builds a wait reads to predict the end of this one.
HISTORY_SIZE = 20

#: How :meth:`Build.logs` polls while following a build: soon after new lines, slower while it is quiet.
FOLLOW_POLICY = PollPolicy(interval=2.0, multiplier=1.5, max_interval=10.0)

# StartBuild members that have a keyword of their own in Project.start; passing them as raw overrides too
# would leave two values for one member.
_NAMED_MEMBERS: Mapping[str, str] = {
    "projectName": "the project handle",
    "environmentVariablesOverride": "env=",
    "sourceVersion": "source_version=",
    "buildspecOverride": "buildspec=",
    "idempotencyToken": "token=",
}

ProgressCallback = Callable[["BuildPhase"], object]
"""Receives each phase of a build (:class:`~pipepilot.model.build.BuildPhase`) once, in order."""


# ------------------------------------------------------------------------------------------- small values


@attrs.frozen(kw_only=True)
class EnvironmentValue:
    """The value of a build environment variable, and how CodeBuild resolves it.

    A plain ``str`` in ``project.start(env={...})`` is a ``PLAINTEXT`` value. For a value CodeBuild should
    read at build time, pass one of these instead: :meth:`parameter_store` (an SSM parameter name) or
    :meth:`secrets_manager` (a Secrets Manager reference, ``secret-id:json-key:version-stage:version-id``).
    The value never shows in ``repr``: a plaintext value may be sensitive.
    """

    value: str = attrs.field(repr=False)
    type: str = "PLAINTEXT"

    @classmethod
    def plaintext(cls, value: str) -> EnvironmentValue:
        """A literal value, visible in the build's settings."""
        return cls(value=value, type="PLAINTEXT")

    @classmethod
    def parameter_store(cls, name: str) -> EnvironmentValue:
        """The value of the SSM Parameter Store parameter ``name``, read by CodeBuild when the build starts."""
        return cls(value=name, type="PARAMETER_STORE")

    @classmethod
    def secrets_manager(cls, reference: str) -> EnvironmentValue:
        """The value of a Secrets Manager secret (``secret-id[:json-key[:version-stage[:version-id]]]``)."""
        return cls(value=reference, type="SECRETS_MANAGER")


@attrs.frozen(kw_only=True)
class LogLine:
    """One line of a build's CloudWatch Logs stream.

    ``message`` is the event as CodeBuild wrote it (usually ending in a newline); ``str(line)`` is the
    message without its line ending.
    """

    timestamp: datetime
    message: str
    ingestion_time: datetime | None = None

    @classmethod
    def from_api(cls, event: Mapping[str, Any]) -> LogLine:
        """Read a ``GetLogEvents`` event (``timestamp`` and ``ingestionTime`` in epoch milliseconds)."""
        ingested = event.get("ingestionTime")
        return cls(
            timestamp=_from_millis(event.get("timestamp", 0)),
            message=str(event.get("message", "")),
            ingestion_time=None if ingested is None else _from_millis(ingested),
        )

    def __str__(self) -> str:
        return self.message.rstrip("\r\n")


def _from_millis(millis: float) -> datetime:
    return datetime.fromtimestamp(millis / 1000.0, tz=timezone.utc)


# ----------------------------------------------------------------------------------------------- project


@attrs.frozen(kw_only=True)
class Project:
    """One CodeBuild project (a handle: its name and the :class:`CodeBuild` facade; nothing is cached)."""

    service: CodeBuild = attrs.field(repr=False, eq=False)
    name: str

    def start(
        self,
        *,
        env: Mapping[str, str | EnvironmentValue] | None = None,
        source_version: str | None = None,
        buildspec: str | None = None,
        token: str | None = None,
        **overrides: Any,
    ) -> Build:
        """Start a build of this project and return its handle; the project itself is not changed.

        ``env`` adds or replaces environment variables for this build: a ``str`` is a ``PLAINTEXT`` value,
        an :class:`EnvironmentValue` says how CodeBuild resolves it (Parameter Store, Secrets Manager).
        ``source_version`` is a commit, branch, tag, ``pr/<n>`` or S3 object version; ``buildspec`` is
        inline YAML, a path in the source, or an S3 ARN. Any other ``StartBuild`` member can be passed by
        its API name, e.g. ``timeoutInMinutesOverride=30`` or ``imageOverride="aws/codebuild/standard:7.0"``.
        The request is checked against the API's rules before it is sent.

        Always idempotent: the request carries ``token`` (a fresh one when not given) as its
        ``idempotencyToken``, and every retry of this call sends the same one, so AWS starts one build
        however many attempts it takes. Pass your own ``token`` to make a repeat of your own call within
        5 minutes return the same build (with the same parameters; other parameters are an error).

        Raises:
            TypeError: an ``env`` value is neither a ``str`` nor an :class:`EnvironmentValue`, or an
                override repeats a member that has a keyword here (nothing was sent).
            RequestValidationError: the request breaks the API's rules; every problem is listed (nothing was sent).
            ResourceNotFoundError: no such project.
            InvalidInputError: AWS refused the request (e.g. ``token`` reused with other parameters).
            AccountLimitExceededError: the account or project runs as many builds as it may.
        """
        for member in overrides:
            keyword = _NAMED_MEMBERS.get(member)
            if keyword is not None:
                raise TypeError(f"pass {member} through {keyword}, not as a raw override")
        params: dict[str, Any] = {"projectName": self.name, **overrides}
        if env:
            params["environmentVariablesOverride"] = _environment_overrides(env)
        if source_version is not None:
            params["sourceVersion"] = source_version
        if buildspec is not None:
            params["buildspecOverride"] = buildspec
        if token is not None:
            params["idempotencyToken"] = token
        check_request(
            "StartBuild", params, service="codebuild", doing=f"start a build of project {self.name!r}"
        )
        response = self.service._calls.call("start_build", idempotent=True, **params)
        build = Build(service=self.service, id=response["build"]["id"])
        logger.info("started build %s of project %s", build.id, self.name)
        return build

    def build_ids(self) -> Iterator[str]:
        """The ids of this project's builds, newest first, fetched page by page as you iterate.

        Raises:
            ResourceNotFoundError: no such project.
        """
        # No sortOrder: CodeBuild refuses one on projects with more than 100 builds, and the default is
        # already newest first.
        for build_id in self.service._calls.paginate("list_builds_for_project", "ids", projectName=self.name):
            # Caller.paginate is typed for pages of objects; this one lists plain id strings.
            yield str(build_id)

    def builds(self) -> Iterator[BuildDetails]:
        """This project's builds, newest first, with their details; fetched lazily as you iterate.

        Each page of up to 100 ids (``ListBuildsForProject``) is read with one ``BatchGetBuilds`` call.
        A build deleted between the two calls is skipped.

        Raises:
            ResourceNotFoundError: no such project.
        """
        ids = self.build_ids()
        while True:
            batch = list(itertools.islice(ids, BATCH_SIZE))
            if not batch:
                return
            found, _ = self.service._fetch_batch(batch)
            for build_id in batch:
                details = found.get(build_id)
                if details is not None:
                    yield details


def _environment_overrides(env: Mapping[str, str | EnvironmentValue]) -> list[dict[str, str]]:
    if not isinstance(env, Mapping):
        raise TypeError(f"env is a mapping of variable names to values, not {type(env).__name__}")
    variables: list[dict[str, str]] = []
    for name, value in env.items():
        if isinstance(value, EnvironmentValue):
            variables.append({"name": name, "value": value.value, "type": value.type})
        elif isinstance(value, str):
            variables.append({"name": name, "value": value, "type": "PLAINTEXT"})
        else:
            raise TypeError(
                f"the value of environment variable {name!r} must be a str or an EnvironmentValue, "
                f"not {type(value).__name__}"
            )
    return variables


# ------------------------------------------------------------------------------------------------- build


@attrs.frozen(kw_only=True)
class Build:
    """One CodeBuild build (a handle: its id and the :class:`CodeBuild` facade; nothing is cached).

    Get one from :meth:`Project.start`, :meth:`Build.retry`, :meth:`CodeBuild.build` or, for a CodePipeline
    CodeBuild action, ``action.build()``. :meth:`get` reads its details.
    """

    service: CodeBuild = attrs.field(repr=False, eq=False)
    id: str

    @property
    def project_name(self) -> str:
        """The name of the build's project (the part of the id before ``:``)."""
        return self.id.partition(":")[0]

    @property
    def project(self) -> Project:
        """The handle of the build's project."""
        return Project(service=self.service, name=self.project_name)

    # -- reads --------------------------------------------------------------------------------------------

    def get(self) -> BuildDetails:
        """The build as it is now: status, current phase, phases with durations and contexts, logs
        location, exported variables (one ``BatchGetBuilds`` call).

        Raises:
            ResourceNotFoundError: no build has this id.
        """
        found, _ = self.service._fetch_batch([self.id])
        return self._found_or_raise(found)

    def _found_or_raise(self, found: Mapping[str, BuildDetails]) -> BuildDetails:
        details = found.get(self.id)
        if details is None:
            raise ResourceNotFoundError(f"build {self.id} does not exist", operation_name="BatchGetBuilds")
        return details

    # -- acting -------------------------------------------------------------------------------------------

    def stop(self) -> BuildDetails:
        """Stop the build, and return it as ``StopBuild`` answered.

        A build that already ended is left as it is, and its final status comes back (AWS does the same),
        so stopping twice is harmless; the call is therefore retried like a read.

        Raises:
            ResourceNotFoundError: no build has this id.
        """
        response = self.service._calls.call("stop_build", idempotent=True, id=self.id)
        details = BuildDetails.from_api(response["build"])
        logger.info("stop of build %s answered: %s", self.id, details.build_status)
        return details

    def retry(self, *, token: str | None = None) -> Build:
        """Start a new build with this build's settings (``RetryBuild``) and return its handle.

        Idempotent like :meth:`Project.start`: ``token`` (a fresh one when not given) is sent with every
        attempt of this call.

        Raises:
            ResourceNotFoundError: no build has this id.
            AccountLimitExceededError: the account or project runs as many builds as it may.
            InvalidInputError: AWS refused the request (e.g. ``token`` reused for another build).
        """
        params: dict[str, Any] = {"id": self.id}
        if token is not None:
            params["idempotencyToken"] = token
        check_request("RetryBuild", params, service="codebuild", doing=f"retry build {self.id}")
        response = self.service._calls.call("retry_build", idempotent=True, **params)
        build = Build(service=self.service, id=response["build"]["id"])
        logger.info("retried build %s as %s", self.id, build.id)
        return build

    # -- waiting ------------------------------------------------------------------------------------------

    def wait(
        self,
        *,
        poll: PollPolicy | None = None,
        on_phase: ProgressCallback | None = None,
    ) -> BuildDetails:
        """Wait until the build ends; return its details when it succeeded, raise when it did not.

        ``poll.timeout`` (seconds) bounds the wait; without it, the wait gives up after the build's
        own timeouts (:func:`~pipepilot.polling.build_timeout`: ``timeoutInMinutes`` plus
        ``queuedTimeoutInMinutes``, and 15 minutes to finalize); ``PollPolicy(timeout=PollPolicy.FOREVER)`` waits without a limit.
        Each poll is one ``BatchGetBuilds`` call. With a policy that sets ``sparse_interval``, the first poll
        also reads the project's recent builds (found with one ``ListBuildsForProject`` call) to predict the
        end, and polls stay that sparse until then. ``on_phase`` receives each phase the build enters
        (:class:`~pipepilot.model.build.BuildPhase`, as first seen: a phase that ended between two polls comes
        with its status, duration and contexts) once, in order, ending with ``COMPLETED``.
        Throttling slows polling down instead of failing the wait.

        Raises:
            BuildFailed: the build ended ``FAILED``, ``FAULT``, ``TIMED_OUT`` or ``STOPPED``; ``build`` is
                its details, ``phase`` the phase that went wrong and ``contexts`` that phase's messages.
            WaitTimeout: the timeout passed first; ``last`` is the last build details seen.
            ResourceNotFoundError: no build has this id.
            ArgumentTypeError: an option has the wrong type; nothing was read.
        """
        check_wait_options(poll=poll, callbacks={"on_phase": on_phase})
        policy = wait_policy(poll)
        now_of, sleep_for = wait_timing(self.service._calls)
        schedule = PollSchedule(policy=policy, started=now_of(), rng=poll_jitter(self.id))
        tracker = _PhaseTracker(self, schedule, on_phase, epoch=self.service._calls.time.time)
        final = wait_until(
            tracker.fetch,
            tracker.decide,
            clock=now_of,
            sleep=sleep_for,
            policy=policy,
            schedule=schedule,
            status_of=lambda details: f"{details.build_status} in {details.current_phase}",
            label=f"build {self.id}",
        )
        return self._outcome(final)

    def _outcome(self, details: BuildDetails) -> BuildDetails:
        status = details.build_status
        if status == BuildStatus.SUCCEEDED:
            logger.info("build %s succeeded", self.id)
            return details
        phase = details.failed_phase
        phase_name = None if phase is None or phase.phase_type is None else str(phase.phase_type)
        contexts = () if phase is None else phase.contexts
        text = f"build {self.id} ended {status}"
        if phase_name:
            text += f" in phase {phase_name}"
        explained = [
            ": ".join(part for part in (context.status_code, context.message) if part) for context in contexts
        ]
        explained = [item.strip() for item in explained if item and item.strip()]
        if explained:
            text += ": " + "; ".join(explained)
        raise BuildFailed(text, build=details, phase=phase_name, contexts=contexts)

    # -- logs ---------------------------------------------------------------------------------------------

    def logs(
        self,
        *,
        follow: bool = False,
        poll: PollPolicy | None = None,
    ) -> Iterator[LogLine]:
        """The lines of the build's CloudWatch Logs stream, oldest first, read lazily as you iterate.

        Without ``follow``, the lines written so far (nothing if the stream does not exist yet). With
        ``follow=True``, new lines as they come, until the build has ended and every line is read
        (``tail -f``); it polls on ``poll`` (default :data:`FOLLOW_POLICY`: every 2 s while lines come,
        slowing to every 10 s while the build is quiet), checking the build's status only when a poll
        brought no new line, and stops with :class:`~pipepilot.errors.WaitTimeout` after ``poll.timeout``
        seconds if one is set. Throttling slows a follow down instead of ending it.

        Raises:
            ResourceNotFoundError: no build has this id, or it writes no CloudWatch Logs (disabled in the
                project's logs configuration).
            WaitTimeout: ``follow`` ran past ``poll.timeout``; ``last`` is the last build details seen.
        """
        reader = _LogReader(self)
        if not follow:
            return reader.read_all()
        now_of, sleep_for = wait_timing(self.service._calls)
        return reader.follow(poll if poll is not None else FOLLOW_POLICY, clock=now_of, sleep=sleep_for)


class _PhaseTracker:
    """Polls one build for :meth:`Build.wait`: reports new phases, and says when the build has ended.

    The first poll reads the build together with the project's recent builds (one ``BatchGetBuilds``);
    their durations give the schedule a forecast.
    """

    def __init__(
        self,
        build: Build,
        schedule: PollSchedule,
        on_phase: ProgressCallback | None,
        *,
        epoch: Callable[[], float],
    ) -> None:
        self.build = build
        self.schedule = schedule
        self.on_phase = on_phase
        self.epoch = epoch
        self.reported = 0
        self.recent: list[str] | None = None  # ids of the project's recent builds, once listed
        self.history_read = False

    def fetch(self) -> BuildDetails:
        if self.history_read:
            return self.build.get()
        details = self._first_poll()
        self.history_read = True
        return details

    def _first_poll(self) -> BuildDetails:
        build = self.build
        if self.recent is None and self.schedule.policy.sparse_interval is None:
            # Only a policy that polls sparsely before the predicted end uses the history.
            self.recent = []
        if self.recent is None:
            self.recent = []
            try:
                response = build.service._calls.call(
                    "list_builds_for_project", idempotent=True, projectName=build.project_name
                )
                self.recent = [item for item in response.get("ids") or () if item != build.id][:HISTORY_SIZE]
            except PipepilotError as error:
                # The prediction only saves calls; a wait works without it.
                logger.debug(
                    "no build history for %s (%s); polling without a forecast", build.project_name, error
                )
        found, _ = build.service._fetch_batch([build.id, *self.recent])
        details = build._found_or_raise(found)
        durations = [
            (item.end_time - item.start_time).total_seconds()
            for item in found.values()
            if item.id != build.id
            and item.succeeded
            and item.start_time is not None
            and item.end_time is not None
        ]
        self.schedule.forecast = Forecast.from_history(durations)
        self.schedule.default_timeout = build_timeout(details)
        if details.start_time is not None:
            self.schedule.elapsed = max(0.0, self.epoch() - details.start_time.timestamp())
        return details

    def decide(self, details: BuildDetails, now: float) -> Step:
        phases = details.phases
        if self.on_phase is not None:
            for phase in phases[self.reported :]:
                self.on_phase(phase)
        self.reported = max(self.reported, len(phases))
        return self.schedule.decide(details.is_complete, now)


class _LogReader:
    """Reads one build's log stream with ``GetLogEvents``, remembering where it stopped."""

    def __init__(self, build: Build) -> None:
        self.build = build
        self.group: str | None = None
        self.stream: str | None = None
        self.token: str | None = None
        self.last: BuildDetails | None = None

    def locate(self, details: BuildDetails) -> bool:
        """Take the stream's location from ``details``; whether it is known yet.

        Raises ResourceNotFoundError when the build does not write to CloudWatch Logs.
        """
        self.last = details
        logs = details.logs
        if (
            logs is not None
            and logs.cloud_watch_logs is not None
            and logs.cloud_watch_logs.status == "DISABLED"
        ):
            s3 = logs.s3_logs.location if logs.s3_logs is not None else None
            where = f"; its log goes to S3 ({s3})" if s3 else ""
            raise ResourceNotFoundError(f"build {self.build.id} writes no CloudWatch Logs{where}")
        if logs is not None and logs.group_name and logs.stream_name:
            # Before PROVISIONING a build has no stream yet, and its location reads "null".
            self.group, self.stream = logs.group_name, logs.stream_name
        return self.group is not None

    def page(self) -> list[LogLine] | None:
        """The next page of lines, or ``None`` at the end of the stream (the token came back unchanged)."""
        assert self.group is not None
        assert self.stream is not None
        params: dict[str, Any] = {
            "logGroupName": self.group,
            "logStreamName": self.stream,
            "startFromHead": True,
        }
        if self.token is not None:
            params["nextToken"] = self.token
        try:
            response = self.build.service._logs_calls.call("get_log_events", idempotent=True, **params)
        except ResourceNotFoundError:
            return None  # the stream is not created yet: nothing to read so far
        token = response.get("nextForwardToken")
        lines = [LogLine.from_api(event) for event in response.get("events") or ()]
        if token is None or token == self.token:
            return lines or None
        self.token = token
        return lines

    def drain(self) -> Iterator[LogLine]:
        """Every line not read yet."""
        while True:
            lines = self.page()
            if lines is None:
                return
            yield from lines

    def read_all(self) -> Iterator[LogLine]:
        if self.locate(self.build.get()):
            yield from self.drain()

    def follow(
        self, policy: PollPolicy, *, clock: Callable[[], float], sleep: Callable[[float], None]
    ) -> Iterator[LogLine]:
        started = clock()
        interval = policy.interval
        check_build = True  # the location comes from the build, so read it first
        while True:
            try:
                complete = False
                if check_build or self.group is None:
                    details = self.build.get()
                    located = self.locate(details)
                    complete = details.is_complete
                    if complete and not located:
                        return  # ended before it ever had a stream: no lines will come
                got_lines = False
                if self.group is not None:
                    for line in self.drain():
                        got_lines = True
                        yield line
                if complete:
                    return  # ended before this drain began, so the drain read its last line
            except TransientError as error:
                interval = policy.after_throttle(interval)
                logger.warning(
                    "following the log of build %s: %s; reading again in %.1fs",
                    self.build.id,
                    error.code,
                    interval,
                )
            else:
                # While lines come the build is running; its status is worth a call only once they stop.
                check_build = not got_lines
                interval = (
                    policy.interval if got_lines else min(interval * policy.multiplier, policy.max_interval)
                )
            if policy.timeout is not None and clock() - started >= policy.timeout:
                raise WaitTimeout(f"following the log of build {self.build.id}: timed out", last=self.last)
            sleep(interval)
