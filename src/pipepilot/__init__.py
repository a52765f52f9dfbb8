"""pipepilot: a typed, testable object model over AWS CodePipeline and CodeBuild.

The top level holds what a program starts from: the service facades (:class:`CodePipeline`,
:class:`CodeBuild`), the handles they hand out (:class:`Pipeline`, :class:`Stage`, :class:`Action`,
:class:`Transition`, :class:`Execution`, :class:`Approval`, :class:`Project`, :class:`Build`), the
declaration a pipeline is made from (:class:`PipelineDeclaration`), the policies (:class:`PollPolicy`,
:class:`RetryPolicy`) and the bases of the error tree. The rest lives in namespaces imported on purpose:

* :mod:`pipepilot.model`: every model (declarations, runtime state, builds, summaries, validation);
* :mod:`pipepilot.errors`: every error, and the AWS error codes each stands for;
* :mod:`pipepilot.events`: progress events of waits, and CodePipeline's EventBridge events;
* :mod:`pipepilot.executions`, :mod:`pipepilot.builds`, :mod:`pipepilot.fleet`, :mod:`pipepilot.freeze`:
  the options and results of those operations (``RevisionOverride``, ``EnvironmentValue``, ...);
* :mod:`pipepilot.local`: the offline engine.

The names load on first use (PEP 562): ``import pipepilot`` costs next to nothing (about 10 ms of CPU here,
against about 130 ms more to load all 24 names), which matters for Lambda cold starts, and
``from pipepilot import CodePipeline`` loads only what the facade needs. Nothing
here imports moto, the offline engine or boto3's client machinery before a client is needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipepilot._lazy import lazy_module_attributes

if TYPE_CHECKING:
    from pipepilot._retry import RetryPolicy as RetryPolicy
    from pipepilot.approvals import Approval as Approval
    from pipepilot.builds import (
        Build as Build,
        Project as Project,
    )
    from pipepilot.codebuild import CodeBuild as CodeBuild
    from pipepilot.errors import (
        AccessDeniedError as AccessDeniedError,
        ApprovalError as ApprovalError,
        AWSServiceError as AWSServiceError,
        ConfigurationError as ConfigurationError,
        ConflictError as ConflictError,
        InvalidRequestError as InvalidRequestError,
        NotFoundError as NotFoundError,
        PipepilotError as PipepilotError,
        QuotaError as QuotaError,
        TransientError as TransientError,
        WaitError as WaitError,
    )
    from pipepilot.executions import Execution as Execution
    from pipepilot.model.declaration import PipelineDeclaration as PipelineDeclaration
    from pipepilot.pipelines import (
        CodePipeline as CodePipeline,
        Pipeline as Pipeline,
    )
    from pipepilot.polling import PollPolicy as PollPolicy
    from pipepilot.stages import (
        Action as Action,
        Stage as Stage,
    )
    from pipepilot.transitions import Transition as Transition

__version__ = "0.1.0.dev0"

# Where each public name is defined; a name loads from its module the first time it is asked for.
_EXPORTS: dict[str, str] = {
    "AWSServiceError": "pipepilot.errors",
    "AccessDeniedError": "pipepilot.errors",
    "Action": "pipepilot.stages",
    "Approval": "pipepilot.approvals",
    "ApprovalError": "pipepilot.errors",
    "Build": "pipepilot.builds",
    "CodeBuild": "pipepilot.codebuild",
    "CodePipeline": "pipepilot.pipelines",
    "ConfigurationError": "pipepilot.errors",
    "ConflictError": "pipepilot.errors",
    "Execution": "pipepilot.executions",
    "InvalidRequestError": "pipepilot.errors",
    "NotFoundError": "pipepilot.errors",
    "Pipeline": "pipepilot.pipelines",
    "PipelineDeclaration": "pipepilot.model.declaration",
    "PipepilotError": "pipepilot.errors",
    "PollPolicy": "pipepilot.polling",
    "Project": "pipepilot.builds",
    "QuotaError": "pipepilot.errors",
    "RetryPolicy": "pipepilot._retry",
    "Stage": "pipepilot.stages",
    "TransientError": "pipepilot.errors",
    "Transition": "pipepilot.transitions",
    "WaitError": "pipepilot.errors",
}

__all__ = sorted([*_EXPORTS, "__version__"])

if not TYPE_CHECKING:  # type checkers see the imports above, and an unknown name is an error for them too
    __getattr__, __dir__ = lazy_module_attributes(__name__, globals(), _EXPORTS)
