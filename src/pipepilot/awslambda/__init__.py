"""pipepilot.awslambda: code that runs inside AWS Lambda, for CodePipeline's approvals and invoke actions.

Job workers for Lambda invoke actions: :class:`Job` is the typed ``CodePipeline.job`` event,
:func:`job_worker` turns a function into a handler that reports each job exactly once (:class:`Success`,
:class:`InProgress`, :class:`JobFailure`, :class:`FailureType`), and :class:`Artifacts` reads and writes the
job's artifacts in the artifact store, streaming.

The names load on first use (PEP 562): a Lambda function pays at cold start only for what it uses.
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

# Where each public name is defined; a name loads from its module the first time it is asked for.
_EXPORTS: dict[str, str] = {
    "ArtifactCredentials": "pipepilot.awslambda._jobs",
    "Artifacts": "pipepilot.awslambda._artifacts",
    "FailureType": "pipepilot.awslambda._jobs",
    "InProgress": "pipepilot.awslambda._jobs",
    "InputArtifact": "pipepilot.awslambda._artifacts",
    "Job": "pipepilot.awslambda._jobs",
    "JobArtifact": "pipepilot.awslambda._jobs",
    "JobFailure": "pipepilot.awslambda._jobs",
    "JobOutcome": "pipepilot.awslambda._jobs",
    "OutputArtifact": "pipepilot.awslambda._artifacts",
    "Success": "pipepilot.awslambda._jobs",
    "job_worker": "pipepilot.awslambda._jobs",
}

__all__ = sorted(_EXPORTS)

if not TYPE_CHECKING:  # type checkers see the imports above, and an unknown name is an error for them too
    __getattr__, __dir__ = lazy_module_attributes(__name__, globals(), _EXPORTS)
