"""A whole release with pipepilot: offline by default, on a real AWS account with ``--live``.

This is ``pipepilot demo`` and ``examples/release.py`` (it lives in the package so that the command works
from an installed wheel; it needs the ``local`` extra, not click)::

    pipepilot demo                              # offline (pipepilot.local): virtual time, about a second
    pipepilot demo --speed 120                  # offline, two minutes of release per second: watchable
    pipepilot demo --throttle 0.3 --lose 0.05   # offline, on a hostile network
    pipepilot demo --live --role-arn ARN --artifact-bucket BUCKET [--keep]

The story, printed as it happens (``[hh:mm:ss]`` is time since the start; virtual time offline):

1. write a pipeline with the typed declaration model and check it locally (Source on S3 -> Build on
   CodeBuild -> Staging -> manual approval notifying SNS -> Prod), then create it: creating a pipeline
   starts its first release, as on AWS;
2. follow release 1 stage by stage, and its CodeBuild build phase by phase;
3. the approval shows up: read what the reviewer is told, and approve with a summary;
4. a change freeze: disable the transition into Prod with a reason, start release 2, see it held there,
   lift the freeze and see it reach production;
5. a failing deploy: release 3 fails in Staging (scripted offline), the stage is retried, the approval is
   found with ``pipeline.wait_for_approval`` and the release completes;
6. a summary: releases and statuses, approvals, API calls, virtual time against wall time.

It exits 0 only when everything behaved as expected; otherwise it says what differed and exits 1.

``--live`` uses your usual AWS credentials and region. It needs a role trusted by CodePipeline
(``--role-arn``; also used for CodeBuild and CloudFormation unless ``--build-role-arn`` and
``--deploy-role-arn`` say otherwise) and an S3 bucket with versioning on (``--artifact-bucket``). It creates
a CodeBuild project, an SNS topic, the pipeline and two CloudFormation stacks that hold nothing of cost,
all named after ``--prefix``, and deletes them at the end unless ``--keep``. Step 5 needs a scripted
failure, so it runs offline only.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
import time
from collections import Counter
from datetime import timezone
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from pipepilot import CodePipeline, PipepilotError, PollPolicy, RetryPolicy
from pipepilot.cli._demo_pipeline import (
    APPROVAL,
    APPROVE_ACTION,
    BUILD,
    PROD,
    STAGING,
    STAGING_ACTION,
    DemoNames,
    DemoResources,
    LiveSetupError,
    clean_up_live,
    create_live,
    prepare_live,
    prepare_offline,
    release_declaration,
)
from pipepilot.errors import BuildFailed, ExecutionFailed, PipelineExecutionNotFoundError
from pipepilot.events import (
    ActionAbandoned,
    ActionFailed,
    ActionStarted,
    ActionSucceeded,
    ApprovalRequested,
    ExecutionHeldAtTransition,
    ExecutionWaitingForStage,
    ProgressEvent,
    StageCancelled,
    StageFailed,
    StageSkipped,
    StageStarted,
    StageStatusChanged,
    StageStopped,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from pipepilot import Pipeline, PipelineDeclaration
    from pipepilot.approvals import Approval
    from pipepilot.executions import Execution
    from pipepilot.local import OfflineAWS
    from pipepilot.model import BuildPhase

# A transition's disabled reason allows letters, digits, spaces and ! @ ( ) . * ? - only: no commas,
# colons or apostrophes (pipepilot checks before sending, and names any character that is not allowed).
FREEZE_REASON = "Quarterly audit freeze - ask the release managers before enabling"

# Virtual seconds a release may take before the demo calls it stuck (a hang costs no wall time offline).
RELEASE_TIMEOUT = 3 * 3600.0
RELEASE_POLL = PollPolicy(timeout=RELEASE_TIMEOUT)

# On a hostile network (--throttle/--lose), give pipepilot's retries more room than the default six
# attempts: at 30% throttling, a few of several hundred calls meet six throttles in a row.
PATIENT = RetryPolicy(max_attempts=12, deadline=600.0)


# ------------------------------------------------------------------------------------------------ output


class Console:
    """Prints the story: ``[hh:mm:ss] Stage     what happened``, the time being since the demo started."""

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now
        self.started = now()

    def elapsed(self) -> float:
        """Seconds since the demo started (virtual seconds offline)."""
        return self.now() - self.started

    def heading(self, text: str) -> None:
        """A step of the story."""
        print(f"\n== {text}", flush=True)

    def say(self, text: str, *, stage: str = "") -> None:
        """One line, stamped with the time it is printed: when the script saw what it says."""
        print(f"[{clock(self.elapsed())}] {stage:<9} {text}".rstrip(), flush=True)

    def detail(self, text: str) -> None:
        """A continuation line under the previous one."""
        print(f"{'':21}{text}", flush=True)


def clock(seconds: float) -> str:
    """``3725.2`` -> ``01:02:05``."""
    whole = max(0, round(seconds))
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def duration(seconds: float) -> str:
    """``95`` -> ``1m35s``; ``3725`` -> ``1h02m05s``."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def short(execution_id: str | None) -> str:
    """Execution ids are UUIDs; their first block is enough to tell releases apart on screen."""
    return (execution_id or "?").split("-")[0]


def describe(event: ProgressEvent) -> str | None:
    """One line for a progress event, or ``None`` for events left out to keep the output short.

    Left out: an action starting (its stage's "started" line says it) and a stage succeeding (its
    action's "succeeded" line, then the next stage starting, say it).
    """
    if isinstance(event, StageStarted):
        return "started"
    if isinstance(event, ApprovalRequested):
        return f"{event.action_name} is waiting for a reviewer"
    if isinstance(event, ActionSucceeded):
        summary = f": {event.run.summary}" if event.run.summary else ""
        return f"{event.action_name} succeeded{summary}"
    if isinstance(event, ActionFailed):
        error = event.error_details
        reason = "" if error is None else f": {error.code}: {error.message}"
        return f"{event.action_name} FAILED{reason}"
    if isinstance(event, ActionAbandoned):
        return f"{event.action_name} abandoned"
    if isinstance(event, ExecutionHeldAtTransition):
        return f'held at the disabled transition: "{event.reason}"'
    if isinstance(event, ExecutionWaitingForStage):
        return f"waiting: release {short(event.occupied_by)} is in the stage"
    if isinstance(event, StageFailed | StageStopped | StageCancelled | StageSkipped):
        return type(event).__name__.removeprefix("Stage").lower()
    if isinstance(event, StageStatusChanged):
        return str(event.status).lower()
    return None


# ------------------------------------------------------------------------------------------------- story


class Progress:
    """The ``on_progress`` callback of ``Execution.wait``: prints each event, and lets the story react.

    ``on_approval`` answers an approval as soon as it waits (the event carries an ``Approval`` handle);
    ``on_held`` is told when the release is held at a disabled transition; with ``follow_builds`` a
    CodeBuild action's build is followed phase by phase while it runs.
    """

    def __init__(
        self,
        demo: ReleaseDemo,
        *,
        on_approval: Callable[[Approval], None] | None = None,
        on_held: Callable[[ExecutionHeldAtTransition], None] | None = None,
        follow_builds: bool = False,
    ) -> None:
        self.demo = demo
        self.on_approval = on_approval
        self.on_held = on_held
        self.follow_builds = follow_builds

    def __call__(self, event: ProgressEvent) -> None:
        line = describe(event)
        if line is not None:
            self.demo.console.say(line, stage=event.stage_name)
        if isinstance(event, ActionStarted) and self.follow_builds and self.demo.runs_codebuild(event):
            self.demo.follow_build(event.run.external_execution_id)
        if (
            isinstance(event, ApprovalRequested)
            and event.approval is not None
            and self.on_approval is not None
        ):
            self.on_approval(event.approval)
        if isinstance(event, ExecutionHeldAtTransition) and self.on_held is not None:
            self.on_held(event)


class ReleaseDemo:
    """The story, step by step, on one account (offline or live); :attr:`surprises` lists what differed."""

    def __init__(
        self,
        session: boto3.session.Session,
        resources: DemoResources,
        console: Console,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.resources = resources
        self.console = console
        self.codepipeline = CodePipeline(session=session, retry=retry)
        # Builds are read through the CodeBuild facade configured like the pipeline's (session, retries).
        self.codebuild = self.codepipeline.codebuild()
        self.declaration: PipelineDeclaration = release_declaration(resources)
        self.pipeline: Pipeline = self.codepipeline.pipeline(resources.names.pipeline)
        self.surprises: list[str] = []
        self.releases: list[tuple[str, Execution]] = []
        self.calls: Counter[str] = Counter()
        # Count every API call pipepilot makes from here on (set-up calls are not pipepilot's).
        for client in (self.codepipeline.client, self.codebuild.client):
            client.meta.events.register("before-call", self._count_call)

    def _count_call(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_id} {model.name}"] += 1

    def expect(self, what: str, actual: object, expected: object) -> None:
        """Check one expectation; a miss is printed at once and remembered for the exit status."""
        if actual != expected:
            self.surprises.append(f"{what}: expected {expected!r}, got {actual!r}")
            self.console.say(f"SURPRISE: {what}: expected {expected}, got {actual}")

    # -- 1. the pipeline ----------------------------------------------------------------------------------

    def create_pipeline(self) -> Execution:
        """Check the declaration locally, create the pipeline, and return the release creating it started."""
        self.console.heading("1. Create the pipeline, checked locally first")
        problems = self.declaration.problems(region=self.resources.region)
        self.expect("problems found by local validation", [str(problem) for problem in problems], [])
        self.console.say(f"declaration checked locally: {len(problems)} problems")
        for line in self.declaration.summary().splitlines():
            self.console.detail(line)
        self.codepipeline.create_pipeline(self.declaration)  # validates again; raises on any problem
        self.console.say(f"created pipeline {self.pipeline.name!r}; creating it started release 1")
        first = self.pipeline.latest_execution()
        if first is None:
            raise PipelineExecutionNotFoundError(f"pipeline {self.pipeline.name!r} did not start a release")
        return first

    # -- 2. and 3. follow release 1, approve it -----------------------------------------------------------

    def first_release(self, execution: Execution) -> None:
        """Follow release 1 from start to end, approving it when the approval waits."""
        self.console.heading(f"2. Release 1 ({short(execution.id)}): follow it as it happens")
        self.releases.append(("release 1", execution))

        def approve(approval: Approval) -> None:
            self.console.heading("3. The approval is waiting")
            self.review(approval, summary="Staging smoke tests passed; release approved by the demo")

        progress = Progress(self, on_approval=approve, follow_builds=True)
        final = execution.wait(on_progress=progress, poll=RELEASE_POLL)
        self.console.say(f"release 1 {final.status}")
        self.expect("release 1 status", str(final.status), "Succeeded")

    def review(self, approval: Approval, *, summary: str) -> None:
        """Show a reviewer what the approval says, then approve it with ``summary``."""
        console = self.console
        console.say(f"{approval.action} asks: {approval.custom_data}", stage=approval.stage)
        if approval.external_entity_link:
            console.detail(f"review: {approval.external_entity_link}")
        if approval.expires is not None:
            console.detail(f"expires: {approval.expires.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC")
        console.detail(f"reviewers were notified through SNS topic {self.resources.names.topic}")
        approval.approve(summary)
        console.say(f'Approved: "{summary}"', stage=approval.stage)

    def runs_codebuild(self, event: ActionStarted) -> bool:
        """Whether the event's action is a CodeBuild action (read from the declaration)."""
        return self.declaration.action(event.stage_name, event.action_name).provider == "CodeBuild"

    def follow_build(self, build_id: str | None) -> None:
        """Follow a CodeBuild build phase by phase while the pipeline waits for it."""
        if not build_id:
            return  # not started yet at this poll; the pipeline's progress goes on without the phases
        build = self.codebuild.build(build_id)
        self.console.say(f"CodeBuild build {build_id.split(':')[-1][:8]}: phase by phase", stage=BUILD)

        def show(phase: BuildPhase) -> None:
            # Each phase comes once, when first seen: with its duration if it had ended by then.
            if phase.phase_type is None or str(phase.phase_type) == "COMPLETED":
                return
            took = "in progress" if phase.duration_in_seconds is None else duration(phase.duration_in_seconds)
            self.console.say(f"  {phase.phase_type!s:<17}{took}", stage=BUILD)

        try:
            details = build.wait(on_phase=show, poll=RELEASE_POLL)
        except BuildFailed as failure:
            # The pipeline's own progress reports the failed action next; nothing more to do here.
            self.console.say(f"CodeBuild build failed in {failure.phase}", stage=BUILD)
            return
        if details.start_time and details.end_time:
            took = duration((details.end_time - details.start_time).total_seconds())
            self.console.say(f"CodeBuild build {details.build_status} in {took}", stage=BUILD)

    # -- 4. a change freeze ------------------------------------------------------------------------------

    def change_freeze(self) -> None:
        """Hold release 2 at the disabled transition into Prod, then lift the freeze and let it through."""
        self.console.heading("4. A change freeze holds release 2 before Prod")
        prod = self.pipeline.stage(PROD)
        # For a whole fleet at once: codepipeline.freeze(pipelines, stage=PROD, reason=...) and thaw(record).
        prod.inbound.disable(FREEZE_REASON)
        self.console.say(f'disabled the transition into Prod: "{FREEZE_REASON}"', stage=PROD)
        execution = self.pipeline.start()
        self.releases.append(("release 2", execution))
        self.console.say(f"started release 2 ({short(execution.id)})")

        held: list[str] = []

        def lift_freeze(event: ExecutionHeldAtTransition) -> None:
            # A release manager would lift the freeze when the audit ends; the demo does it right away.
            held.append(event.stage_name)
            prod.inbound.enable()
            self.console.say("the freeze is over: enabled the transition into Prod", stage=PROD)

        def approve(approval: Approval) -> None:
            approval.approve("Release 2 approved during the freeze; it deploys when the freeze ends")
            self.console.say("approved", stage=approval.stage)

        progress = Progress(self, on_approval=approve, on_held=lift_freeze)
        final = execution.wait(on_progress=progress, poll=RELEASE_POLL)
        self.console.say(f"release 2 {final.status}")
        self.expect("stages where release 2 was held", held, [PROD])
        self.expect("release 2 status", str(final.status), "Succeeded")

    # -- 5. a failing deploy -----------------------------------------------------------------------------

    def failing_deploy(self, offline: OfflineAWS) -> None:
        """Release 3 fails in Staging once; retry the stage, approve, and see the release finish."""
        self.console.heading("5. Release 3 fails in Staging: retry the stage")
        # Script the next run of the Staging deploy to fail (only the offline engine can be told that).
        offline.script_action(
            self.pipeline.name,
            STAGING,
            STAGING_ACTION,
            outcome="Failed",
            error_code="JobFailed",
            error_message=(
                f"Stack {self.resources.names.staging_stack} is in UPDATE_ROLLBACK_COMPLETE: "
                "health check failed (scripted)"
            ),
            times=1,
        )
        execution = self.pipeline.start()
        self.releases.append(("release 3", execution))
        self.console.say(f"started release 3 ({short(execution.id)})")
        try:
            execution.wait(on_progress=Progress(self), poll=RELEASE_POLL)
        except ExecutionFailed as failed:
            self.console.say(f"ExecutionFailed: stage {failed.stage}, action {failed.action}")
            self.console.detail(f"{failed.error_code}: {failed.error_message}")
            self.expect("where release 3 failed", (failed.stage, failed.action), (STAGING, STAGING_ACTION))
        else:
            self.expect("release 3 status before the retry", "Succeeded", "Failed")
            return

        self.pipeline.stage(STAGING).retry(
            execution=execution
        )  # reruns the failed action, in the same release
        self.console.say("retried the stage (failed actions only)", stage=STAGING)
        approval = self.pipeline.wait_for_approval(
            APPROVAL, APPROVE_ACTION, execution=execution, poll=RELEASE_POLL
        )
        self.console.say(f"pipeline.wait_for_approval found {approval.action} waiting", stage=APPROVAL)
        approval.approve("Staging is healthy after the retry")
        self.console.say("approved", stage=APPROVAL)
        final = execution.wait(poll=RELEASE_POLL)  # no progress asked: one cheap call per poll
        self.console.say(f"release 3 {final.status}")
        self.expect("release 3 status after the retry", str(final.status), "Succeeded")

    # -- 6. summary --------------------------------------------------------------------------------------

    def summarize(self, *, wall_seconds: float, setup_seconds: float) -> None:
        """What happened, read back from CodePipeline, and what it cost (``wall_seconds`` of the story,
        after ``setup_seconds`` of setting the stage)."""
        self.console.heading("6. Summary")
        listed = {summary.pipeline_execution_id: summary for summary in self.pipeline.executions()}
        for label, execution in self.releases:
            summary = listed.get(execution.id)
            status = "missing" if summary is None else str(summary.status)
            trigger = "" if summary is None or summary.trigger is None else str(summary.trigger.trigger_type)
            self.console.detail(f"{label}  {short(execution.id)}  {status:<10} started by {trigger}")
            self.expect(f"{label} final status", status, "Succeeded")
        # Each start made exactly one execution, however often a request was retried.
        self.expect("executions of the pipeline", len(listed), len(self.releases))

        approvals = self.pipeline.stage(APPROVAL).action(APPROVE_ACTION).executions()
        approved = sum(1 for run in approvals if str(run.status) == "Succeeded")
        pending = self.pipeline.approvals()
        self.console.detail(f"approvals recorded: {approved}; still waiting: {len(pending)}")
        self.expect("approvals recorded", approved, len(self.releases))
        self.expect("approvals still waiting", len(pending), 0)

        total = sum(self.calls.values())
        busiest = ", ".join(f"{name} {count}" for name, count in self.calls.most_common(3))
        self.console.detail(f"API calls by pipepilot: {total} ({busiest}, ...)")
        self.console.detail(
            f"time: {duration(self.console.elapsed())} of releases in {wall_seconds:.2f} s of wall time "
            f"(set-up before that: {setup_seconds:.2f} s)"
        )


# -------------------------------------------------------------------------------------------------- runs


def run_offline(options: argparse.Namespace) -> int:
    """The whole story on :func:`pipepilot.local.offline`: nothing leaves this machine."""
    import pipepilot.local  # only here: moto and the engines load when they are needed

    setup_started = time.perf_counter()
    with pipepilot.local.offline(region=options.region, seed=options.seed, speed=options.speed) as aws:
        pace = "virtual time" if options.speed is None else f"{options.speed:g}x real time"
        print(f"pipepilot release demo: offline on pipepilot.local ({pace}; nothing leaves this machine)")
        hostile = bool(options.throttle or options.lose)
        if hostile:
            print(
                f"hostile network: {options.throttle:.0%} of calls throttled, {options.lose:.0%} of answers "
                "lost (pipepilot's retries are logged below)"
            )
        session = boto3.session.Session(region_name=options.region)
        resources = prepare_offline(session, DemoNames(prefix=options.prefix or "pipepilot-demo"))
        demo = ReleaseDemo(session, resources, Console(aws.clock.now), retry=PATIENT if hostile else None)
        story_started = time.perf_counter()
        try:
            first = demo.create_pipeline()
            # Faults start once the pipeline exists: creating one is not idempotent, so pipepilot leaves
            # an ambiguous create to the caller (see CodePipeline.create_pipeline).
            add_faults(aws, throttle=options.throttle, lose=options.lose)
            demo.first_release(first)
            demo.change_freeze()
            demo.failing_deploy(aws)
            aws.faults.clear()  # the summary reads a calm network
            demo.summarize(
                wall_seconds=time.perf_counter() - story_started, setup_seconds=story_started - setup_started
            )
        except PipepilotError as error:
            demo.surprises.append(f"{type(error).__name__}: {error}")
        if hostile:
            injected = Counter(fault.error for fault in aws.faults.log)
            print(f"{'':21}faults injected: {dict(injected)}")
    return verdict(demo.surprises)


def add_faults(aws: OfflineAWS, *, throttle: float, lose: float) -> None:
    """Throttle a share of CodePipeline and CodeBuild calls, and lose the answer of another share."""
    for service in ("codepipeline", "codebuild"):
        if lose:
            # Applied, then unanswered: the case idempotency tokens and read-backs exist for.
            aws.faults.add(service=service, error="lost-response", rate=lose)
        if throttle:
            # The first rule that fires decides a call, so this share is of the calls not lost.
            aws.faults.add(service=service, error="ThrottlingException", rate=min(1.0, throttle / (1 - lose)))


def run_live(options: argparse.Namespace) -> int:
    """The story on a real account: create, release, and (unless ``--keep``) delete everything created."""
    session = boto3.session.Session(region_name=options.region, profile_name=options.profile)
    names = DemoNames(prefix=options.prefix or f"pipepilot-demo-{secrets.token_hex(3)}")
    print(f"pipepilot release demo: LIVE in {session.region_name}; resources are named {names.prefix}*")
    setup_started = time.perf_counter()
    try:
        resources = prepare_live(
            session,
            names,
            bucket=options.artifact_bucket,
            pipeline_role_arn=options.role_arn,
            build_role_arn=options.build_role_arn or options.role_arn,
            deploy_role_arn=options.deploy_role_arn or options.role_arn,
        )
    except (LiveSetupError, BotoCoreError, ClientError) as error:
        print(f"cannot run live (nothing was created): {error}", file=sys.stderr)
        return 2
    demo = ReleaseDemo(session, resources, Console(time.time))
    try:
        create_live(session, resources)
        story_started = time.perf_counter()
        first = demo.create_pipeline()
        demo.first_release(first)
        demo.change_freeze()
        demo.console.heading(
            "5. Release 3 fails in Staging: skipped (a scripted failure needs the offline engine)"
        )
        demo.summarize(
            wall_seconds=time.perf_counter() - story_started, setup_seconds=story_started - setup_started
        )
    except PipepilotError as error:
        demo.surprises.append(f"{type(error).__name__}: {error}")
    finally:
        # Also after an error or Ctrl-C: a live run must not leave resources behind unasked.
        if options.keep:
            print(f"\n--keep: left everything named {names.prefix}* in place")
        else:
            print("\n== Clean-up")
            for line in clean_up_live(session, resources):
                print(f"{'':21}{line}")
    return verdict(demo.surprises)


def verdict(surprises: list[str]) -> int:
    """Print the outcome; 0 when everything went as expected, 1 otherwise."""
    if not surprises:
        print("\nEverything went as expected.")
        return 0
    print(f"\n{len(surprises)} surprise(s):")
    for surprise in surprises:
        print(f"  - {surprise}")
    return 1


def parse_args(argv: list[str] | None, *, prog: str | None = None) -> argparse.Namespace:
    """The command line (see the module docstring); ``prog`` names the command in messages."""
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--region", default="us-east-1", help="the region (default: %(default)s offline)")
    parser.add_argument("--prefix", help="name of the pipeline and prefix of every resource the demo creates")
    offline = parser.add_argument_group("offline (the default)")
    offline.add_argument("--speed", type=float, help="run in real time, this many times faster (e.g. 120)")
    offline.add_argument("--seed", type=int, default=0, help="seed of ids, tokens and faults (default: 0)")
    offline.add_argument("--throttle", type=float, default=0.0, help="share of calls throttled (e.g. 0.3)")
    offline.add_argument("--lose", type=float, default=0.0, help="share of answers lost (e.g. 0.05)")
    live = parser.add_argument_group("live (real AWS: creates resources, and deletes them unless --keep)")
    live.add_argument("--live", action="store_true", help="run against AWS with your usual credentials")
    live.add_argument("--profile", help="the AWS profile to use")
    live.add_argument("--role-arn", help="service role for CodePipeline (and CodeBuild/CloudFormation)")
    live.add_argument("--build-role-arn", help="service role for CodeBuild (default: --role-arn)")
    live.add_argument("--deploy-role-arn", help="role CloudFormation deploys with (default: --role-arn)")
    live.add_argument("--artifact-bucket", help="versioned S3 bucket for the source bundle and artifacts")
    live.add_argument("--keep", action="store_true", help="leave the created resources in place")
    options = parser.parse_args(argv)
    if options.live and not (options.role_arn and options.artifact_bucket):
        parser.error("--live needs --role-arn and --artifact-bucket")
    if options.live and (options.speed or options.throttle or options.lose):
        parser.error("--speed, --throttle and --lose apply to offline runs only")
    if options.speed is not None and options.speed <= 0:
        parser.error("--speed must be positive")
    for name in ("throttle", "lose"):
        if not 0 <= getattr(options, name) < 1:
            parser.error(f"--{name} is a share of calls, from 0 up to (not including) 1")
    return options


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Run the demo; the exit status is 0 when everything behaved as expected.

    Bad arguments exit with status 2 (``SystemExit``), before anything runs.
    """
    options = parse_args(argv, prog=prog)
    # pipepilot logs what it retries and recovers from at WARNING; show it in the story's margin.
    logging.basicConfig(level=logging.WARNING, format=f"{'':21}pipepilot: %(message)s")
    return run_live(options) if options.live else run_offline(options)


if __name__ == "__main__":
    sys.exit(main())
