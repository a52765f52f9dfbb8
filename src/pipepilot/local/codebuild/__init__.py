"""The offline CodeBuild engine: projects and builds whose phases advance on the virtual clock.

It answers CodeBuild's JSON API (one instance per region, owned by the World)
and is the only source of truth for CodeBuild inside :func:`pipepilot.local.offline`: projects are created
and read through the normal API, and moto's CodeBuild is never consulted.

Behaviour:

* A build walks ``SUBMITTED → QUEUED → PROVISIONING → DOWNLOAD_SOURCE → INSTALL → PRE_BUILD → BUILD →
  POST_BUILD → UPLOAD_ARTIFACTS → FINALIZING → COMPLETED``, each phase lasting its (default or scripted)
  duration. SUBMITTED takes no time, so StartBuild answers with QUEUED in progress, as AWS does.
* The phase in progress shows ``phaseType`` and ``startTime`` only; a finished phase adds ``phaseStatus``,
  ``endTime``, ``durationInSeconds`` and (from PROVISIONING on) ``contexts``; the final COMPLETED entry has
  ``phaseType`` and ``startTime`` only.
* ``buildStatus`` stays ``IN_PROGRESS`` until the build completes, then turns to the outcome together with
  ``buildComplete`` (so a waiter never sees a final status on an unfinished build).
* A failure (FAILED or FAULT) in BUILD still runs POST_BUILD and UPLOAD_ARTIFACTS; one in POST_BUILD still
  runs UPLOAD_ARTIFACTS; one in an earlier phase skips to FINALIZING. A timeout (``timeoutInMinutes``
  counted from PROVISIONING, ``queuedTimeoutInMinutes`` for QUEUED) ends the phase TIMED_OUT and skips to
  FINALIZING. StopBuild ends the phase STOPPED and completes at once (as the AWS CLI example shows).
* Log lines go to moto's CloudWatch Logs at ``logs.groupName`` / ``logs.streamName`` (the stream appears
  in PROVISIONING; before that ``logs`` points at ``null``, as on AWS).
* "CodeBuild Build State Change" events (IN_PROGRESS, then the outcome) go to the World's event log.

Choices where AWS's documentation is silent: StartBuild with a reused ``idempotencyToken`` within 5 minutes
returns the first build when the parameters match and ``InvalidInputException`` otherwise; a project's
``concurrentBuildLimit`` and the World's ``max_concurrent_builds`` are enforced with
``AccountLimitExceededException``; ListBuilds and ListBuildsForProject default to newest first.


The package splits by concern: ``_projects`` (projects), ``_builds`` (builds and their phases), ``_logs``
(log streams), ``_engine`` (the wire: one decoded request in, one answer out) and ``_host`` (what the engine
asks of the World, as protocols: the engine never imports the World).
"""

from __future__ import annotations

from pipepilot.local.codebuild._builds import PHASES
from pipepilot.local.codebuild._engine import CodeBuildEngine

__all__ = ["PHASES", "CodeBuildEngine"]
