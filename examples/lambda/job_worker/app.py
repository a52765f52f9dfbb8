"""A job worker for a Lambda invoke action: runs smoke tests in CodeBuild, reporting "in progress" meanwhile.

Deploy it as it is with ``template.yaml`` (see README.md) and add an invoke action to the pipeline::

    {"name": "SmokeTest",
     "actionTypeId": {"category": "Invoke", "owner": "AWS", "provider": "Lambda", "version": "1"},
     "configuration": {"FunctionName": "<the function>", "UserParameters": "{\\"suite\\": \\"checkout\\"}"},
     "inputArtifacts": [{"name": "BuildOutput"}], "outputArtifacts": [{"name": "SmokeReport"}],
     "namespace": "Smoke"}

What it does, one invocation at a time (CodePipeline invokes it again after each "in progress" answer):

1. the first invocation reads ``VERSION`` from the input artifact, starts a build of the smoke-test
   project (``SMOKE_TEST_PROJECT``) with ``SUITE`` and ``VERSION`` set, and answers "in progress" with the
   build's id as its state. The build's idempotency token is the job id: a duplicate invocation of this job
   starts no second build;
2. each later invocation looks at the build: still running, "in progress" again (the action shows how many
   checks were made); succeeded, it writes ``smoke-report.json`` as the output artifact and succeeds with
   the output variables ``BUILD_ID`` and ``VERSION`` (``#{Smoke.VERSION}`` downstream); failed, it fails the
   job with the build's status.

pipepilot answers each job exactly once, reports before Lambda's timeout, and never logs the event (it
carries the artifact store's credentials). Artifacts are read and written with the job's own temporary
credentials, so the function's role needs no S3 or KMS permission.
"""

from __future__ import annotations

import json
import os
from typing import Any

from pipepilot import CodeBuild
from pipepilot.awslambda import Artifacts, FailureType, InProgress, Job, JobFailure, Success, job_worker

#: Builds that are still running are checked again in a new invocation; this many checks at most.
MAX_CHECKS = 60


@job_worker(margin=15)
def handler(job: Job, context: Any) -> InProgress | Success:
    """Start the smoke tests on the first invocation, then check on them until they end."""
    state = job.state
    if state is None:
        return _start(job)
    build = CodeBuild().build(state["build"]).get()
    status = str(build.build_status)  # a BuildStatus (or a status CodeBuild added later), as its wire text
    if status == "IN_PROGRESS":
        checks = int(state.get("checks", 0)) + 1
        if checks > MAX_CHECKS:
            raise JobFailure(f"smoke tests still running after {MAX_CHECKS} checks: build {build.id}")
        return InProgress({**state, "checks": checks}, summary=f"smoke tests running (check {checks})")
    if status != "SUCCEEDED":
        raise JobFailure(
            f"smoke tests {status.lower()} in phase {build.current_phase}: build {build.id}",
            external_execution_id=build.id,
        )
    if job.output_artifacts:
        report = {"build": build.id, "version": state["version"], "status": status}
        Artifacts(job).write({"smoke-report.json": json.dumps(report, indent=2) + "\n"})
    return Success(
        output_variables={"BUILD_ID": str(build.id), "VERSION": state["version"]},
        summary=f"smoke tests passed for {state['version']}",
        external_execution_id=build.id,
    )


def _start(job: Job) -> InProgress:
    """Read the version to test and start the smoke-test build (once per job, whatever the invocations)."""
    parameters = job.parameters if isinstance(job.parameters, dict) else {}
    suite = str(parameters.get("suite", "default"))
    version = "unknown"
    if job.input_artifacts:
        with Artifacts(job).open() as source:
            if "VERSION" in source.names():
                version = source.read_text("VERSION").strip()
    project = os.environ.get("SMOKE_TEST_PROJECT")
    if not project:
        raise JobFailure("SMOKE_TEST_PROJECT is not set", failure_type=FailureType.CONFIGURATION_ERROR)
    build = CodeBuild().project(project).start(env={"SUITE": suite, "VERSION": version}, token=job.job_id)
    return InProgress(
        {"build": build.id, "version": version, "checks": 0},
        summary=f"smoke tests started for {version}",
        external_execution_id=build.id,
    )
