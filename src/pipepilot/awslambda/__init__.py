"""pipepilot.awslambda: answer CodePipeline approvals and invoke-action jobs from AWS Lambda, exactly once.

Approvals:

* :func:`read_notifications` reads the approval notifications in a Lambda event (SNS records, a bare
  approval message, or a CodePipeline EventBridge event) into :class:`ApprovalNotification` values, whose
  :meth:`~ApprovalNotification.approval` is the handle of exactly the approval notified.
* :func:`answer` approves or rejects a handle exactly once and returns an :class:`AnswerOutcome`
  (:class:`OutcomeKind`: answered, already answered, conflict, expired); only transient failures raise,
  so Lambda's own retry is the retry.
* :func:`approval_bot` turns ``decide(request) -> Approve | Reject | Leave`` into an SNS-subscribed handler.

Job workers for Lambda invoke actions:

* :class:`Job` is the typed ``CodePipeline.job`` event (artifacts, user parameters, continuation state;
  the artifact credentials concealed).
* :func:`job_worker` turns ``work(job, context)`` into a handler that answers each job exactly once:
  :class:`Success`, :class:`InProgress` (a continuation), or an exception (:class:`JobFailure` chooses
  the :class:`FailureType`); it reports before Lambda's timeout. The handler returns a :class:`JobOutcome`.
* :class:`Artifacts` reads a job's input artifacts (:class:`InputArtifact`) and writes its output
  artifacts (:class:`OutputArtifact`), streaming, with the job's credentials.

The names load on first use, as on the top-level package: a Lambda function pays at cold start for what
it imports, and ``import pipepilot.awslambda`` loads neither boto3's clients nor the rest of pipepilot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipepilot._lazy import lazy_module_attributes

if TYPE_CHECKING:
    from pipepilot.awslambda._artifacts import (
        Artifacts as Artifacts,
        InputArtifact as InputArtifact,
        OutputArtifact as OutputArtifact,
    )
    from pipepilot.awslambda._bot import (
        ApprovalBot as ApprovalBot,
        ApprovalRequest as ApprovalRequest,
        Approve as Approve,
        Leave as Leave,
        Reject as Reject,
        approval_bot as approval_bot,
    )
    from pipepilot.awslambda._jobs import (
        ArtifactCredentials as ArtifactCredentials,
        FailureType as FailureType,
        InProgress as InProgress,
        Job as Job,
        JobArtifact as JobArtifact,
        JobFailure as JobFailure,
        JobOutcome as JobOutcome,
        Success as Success,
        job_worker as job_worker,
    )
    from pipepilot.awslambda._notifications import (
        ApprovalNotification as ApprovalNotification,
        read_notifications as read_notifications,
    )
    from pipepilot.awslambda._outcomes import (
        AnswerOutcome as AnswerOutcome,
        OutcomeKind as OutcomeKind,
        answer as answer,
        fit_summary as fit_summary,
    )
    from pipepilot.awslambda._secrets import Secret as Secret, forget_secrets as forget_secrets

# Where each public name is defined (one list: add a name here and in the TYPE_CHECKING block above).
_EXPORTS: dict[str, str] = {
    "AnswerOutcome": "pipepilot.awslambda._outcomes",
    "ApprovalBot": "pipepilot.awslambda._bot",
    "ApprovalNotification": "pipepilot.awslambda._notifications",
    "ApprovalRequest": "pipepilot.awslambda._bot",
    "Approve": "pipepilot.awslambda._bot",
    "ArtifactCredentials": "pipepilot.awslambda._jobs",
    "Artifacts": "pipepilot.awslambda._artifacts",
    "FailureType": "pipepilot.awslambda._jobs",
    "InProgress": "pipepilot.awslambda._jobs",
    "InputArtifact": "pipepilot.awslambda._artifacts",
    "Job": "pipepilot.awslambda._jobs",
    "JobArtifact": "pipepilot.awslambda._jobs",
    "JobFailure": "pipepilot.awslambda._jobs",
    "JobOutcome": "pipepilot.awslambda._jobs",
    "Leave": "pipepilot.awslambda._bot",
    "OutcomeKind": "pipepilot.awslambda._outcomes",
    "OutputArtifact": "pipepilot.awslambda._artifacts",
    "Reject": "pipepilot.awslambda._bot",
    "Secret": "pipepilot.awslambda._secrets",
    "Success": "pipepilot.awslambda._jobs",
    "answer": "pipepilot.awslambda._outcomes",
    "approval_bot": "pipepilot.awslambda._bot",
    "fit_summary": "pipepilot.awslambda._outcomes",
    "forget_secrets": "pipepilot.awslambda._secrets",
    "job_worker": "pipepilot.awslambda._jobs",
    "read_notifications": "pipepilot.awslambda._notifications",
}

__all__ = sorted(_EXPORTS)

if not TYPE_CHECKING:  # type checkers see the imports above, and an unknown name is an error for them too
    __getattr__, __dir__ = lazy_module_attributes(__name__, globals(), _EXPORTS)
