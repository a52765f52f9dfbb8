"""Live CodePipeline objects: the :class:`CodePipeline` facade and :class:`Pipeline` handles.

A :class:`CodePipeline` stands for CodePipeline in one account and region. It holds a boto3 client (injected,
or created on first use, never at import) behind pipepilot's one I/O seam (:mod:`pipepilot._calls`),
which translates errors and retries what is safe to retry. Everything it hands out is either a typed
model (:mod:`pipepilot.model`) or a *handle*: a :class:`Pipeline` is a name plus the facade, and makes no
call until one of its methods needs one.

::

    cp = CodePipeline(region_name="eu-west-1")          # no client yet
    for summary in cp.pipelines():                      # ListPipelines, page by page
        print(summary.name, summary.version)
    pipeline = cp.pipeline("web")                       # no call
    declaration = pipeline.declaration()                # GetPipeline
    pipeline.update(declaration.evolve(...), expected_version=declaration.version)

    execution = pipeline.start()                        # StartPipelineExecution (idempotent)
    approval = pipeline.wait_for_approval("Approval")   # the pending Approval, as soon as it shows
    approval.approve("staging looks good")
    execution.wait(on_progress=print)                   # returns, or raises ExecutionFailed & co.

    record = cp.freeze("web-*", stage="Prod", reason="Holiday freeze")   # every web-* pipeline
    cp.thaw(record)                                     # re-enables exactly what the freeze disabled

The run-time methods (executions, stages, transitions, approvals, waits; fleet reads and freezes) live in
:mod:`pipepilot._pipeline_runtime` and are mixed into the two classes here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pipepilot._checks import check_declaration, check_int, check_str, check_str_map
from pipepilot._facade import Facade
from pipepilot._handles import aws_details
from pipepilot._pipeline_runtime import CodePipelineRuntime, PipelineRuntime
from pipepilot.errors import (
    PipelineNotFoundError,
    PipelineRenameError,
    ResourceNotFoundError,
    ValidationError,
    VersionConflictError,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from mypy_boto3_codepipeline.client import CodePipelineClient

    from pipepilot._calls import Caller
    from pipepilot.codebuild import CodeBuild
    from pipepilot.model.declaration import PipelineDeclaration, PipelineDocument
    from pipepilot.model.summaries import PipelineSummary

__all__ = ["CodePipeline", "Pipeline"]

logger = logging.getLogger(__name__)


class CodePipeline(CodePipelineRuntime, Facade["CodePipelineClient"]):
    """CodePipeline in one account and region: list, create and open pipelines; read and freeze fleets.

    Pass a boto3 ``client`` to use it as it is (its own retry configuration is respected, see
    :class:`~pipepilot.RetryPolicy`), or let pipepilot create one on first use from ``session`` (default:
    boto3's default session, the one ``boto3.client()`` uses, shared by every facade), ``region_name`` and
    ``config``. ``retry`` is the retry policy; ``clock`` (monotonic seconds) and ``sleep`` default to
    pipepilot's time source, looked up at each call, so :func:`pipepilot.local.offline` applies. They are also the defaults of the waits of its handles, and
    of the :class:`~pipepilot.CodeBuild` facade :meth:`codebuild` returns.

    Raises:
        ArgumentTypeError: an option has the wrong type (``client="x"``, ``retry=3``, ``clock=1``: the text
            names the option and what to pass), or both a client and options to build one were given.
    """

    service_name = "codepipeline"

    def codebuild(self) -> CodeBuild:
        """The CodeBuild facade configured like this one, in the same region (made once, on first use).

        It is built from the same session, botocore config, retry policy, clock and sleep; when this
        facade's client was injected, in that client's region, from a new default boto3 session. It is the
        one ``action.build()`` reads builds through.
        """
        from pipepilot.codebuild import codebuild_beside

        return codebuild_beside(self._calls)

    # -- pipelines ----------------------------------------------------------------------------------------

    def pipelines(self) -> Iterator[PipelineSummary]:
        """Every pipeline in the account and region, as summaries, fetched page by page as you iterate.

        Nothing is requested until the first item is needed.

        Raises:
            PipepilotError: listing failed (for example :class:`~pipepilot.AccessDeniedError`).
        """
        from pipepilot.model.summaries import PipelineSummary

        for item in self._calls.paginate("list_pipelines", "pipelines"):
            yield PipelineSummary.from_api(item)

    def pipeline(self, name: str) -> Pipeline:
        """A handle on the pipeline called ``name``; no call is made until the handle is used.

        Raises:
            ValidationError: ``name`` is not a non-empty string.
        """
        if not isinstance(name, str) or not name:
            raise ValidationError(f"a pipeline name is a non-empty string, not {name!r}")
        return Pipeline(self, name)

    def create_pipeline(
        self,
        declaration: PipelineDeclaration,
        *,
        tags: Mapping[str, str] | None = None,
        validate: bool = True,
    ) -> Pipeline:
        """Create the pipeline ``declaration`` describes, tagged with ``tags``, and return its handle.

        The declaration is validated locally first (every problem at once, before anything is sent) unless
        ``validate=False``. AWS ignores the declaration's ``version``: a new pipeline is version 1, and
        creating it starts its first execution. If the service role was created moments ago, the create is
        retried while IAM propagates it (see :class:`~pipepilot.RetryPolicy`).

        Raises:
            PipelineValidationError: local validation found problems; nothing was sent.
            PipelineNameInUseError: a pipeline with that name exists (moto reports this as
                :class:`~pipepilot.errors.InvalidStructureError`).
            InvalidStructureError: AWS rejected the structure, or the role stayed unassumable.
            LimitExceededError: the account's pipeline quota is reached.
            InvalidTagsError, TooManyTagsError: the tags were refused.
            ArgumentTypeError: ``declaration`` is not a :class:`~pipepilot.PipelineDeclaration` (a wire
                dict: read it with ``PipelineDeclaration.from_api``), or ``tags`` is not a mapping of
                strings; nothing was sent.
        """
        declaration = check_declaration(declaration)
        check_str_map(tags, "tags", example='{"team": "web"}')
        if validate:
            declaration.validate()
        params: dict[str, Any] = {"pipeline": declaration.to_api()}
        if tags:
            params["tags"] = _tag_list(tags)
        # Not idempotent: after an ambiguous failure (5xx, dropped connection) a resend could meet its own
        # pipeline as "name in use", so such failures are raised for the caller to check.
        self._calls.call("create_pipeline", idempotent=False, **params)
        logger.info("created pipeline %s", declaration.name)
        return Pipeline(self, declaration.name)


class Pipeline(PipelineRuntime):
    """A handle on one pipeline: its name and the :class:`CodePipeline` it belongs to.

    Besides its declaration (read, update, delete, tags) it starts and follows executions, and reaches the
    pipeline's stages, transitions and approvals.

    Creating a handle makes no call and does not check that the pipeline exists; each method makes the
    calls it needs. Two handles are equal when they name the same pipeline through the same facade.
    """

    def __init__(self, service: CodePipeline, name: str) -> None:
        self._service = service
        self._name = name
        self._arn: str | None = None

    @property
    def name(self) -> str:
        """The pipeline's name."""
        return self._name

    @property
    def service(self) -> CodePipeline:
        """The facade this handle calls through."""
        return self._service

    @property
    def _calls(self) -> Caller[CodePipelineClient]:
        return self._service._calls

    def __repr__(self) -> str:
        return f"Pipeline(name={self._name!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pipeline):
            return NotImplemented
        return self._service is other._service and self._name == other._name

    def __hash__(self) -> int:
        return hash((id(self._service), self._name))

    # -- reading ------------------------------------------------------------------------------------------

    def document(self, *, version: int | None = None) -> PipelineDocument:
        """The declaration with its metadata (ARN, created, updated), at ``version`` or the latest.

        Raises:
            PipelineNotFoundError: no such pipeline.
            PipelineVersionNotFoundError: the pipeline has no such version.
        """
        from pipepilot.model.declaration import PipelineDocument

        check_int(version, "version", optional=True)
        params: dict[str, Any] = {"name": self._name}
        if version is not None:
            params["version"] = version
        document = PipelineDocument.from_api(self._calls.call("get_pipeline", idempotent=True, **params))
        if document.metadata is not None and document.metadata.pipeline_arn:
            self._arn = document.metadata.pipeline_arn
        return document

    def declaration(self, *, version: int | None = None) -> PipelineDeclaration:
        """The pipeline's declaration at ``version`` (default: the latest); one ``GetPipeline`` call.

        Raises:
            PipelineNotFoundError: no such pipeline.
            PipelineVersionNotFoundError: the pipeline has no such version.
        """
        return self.document(version=version).declaration

    def arn(self) -> str:
        """The pipeline's ARN (read once with ``GetPipeline``, then remembered by this handle).

        Raises:
            PipelineNotFoundError: no such pipeline.
        """
        if self._arn is None:
            self.document()
            if self._arn is None:
                raise PipelineNotFoundError(f"GetPipeline returned no ARN for pipeline {self._name!r}")
        return self._arn

    # -- changing -----------------------------------------------------------------------------------------

    def update(
        self,
        declaration: PipelineDeclaration,
        *,
        expected_version: int | None = None,
        validate: bool = True,
    ) -> PipelineDeclaration:
        """Replace the pipeline's structure with ``declaration``; return the stored one (version bumped).

        The declaration is validated locally first unless ``validate=False``. Its name must be the
        pipeline's: CodePipeline cannot rename (create a copy and delete the old one instead).

        With ``expected_version`` the update is optimistic: the current version is read first, and if the
        pipeline has moved past the version the caller based its edit on, :class:`VersionConflictError` is
        raised and nothing is changed. CodePipeline has no conditional update, so a window remains between
        that read and the update: a concurrent writer landing inside it is overwritten. That case is
        detected afterwards (the stored version jumps by more than one) and logged at WARNING; the caller
        can compare the returned ``version`` with ``expected_version + 1``.

        An update is not retried after an ambiguous failure (5xx, dropped connection): it may have been
        applied, and a resend would bump the version again.

        Raises:
            PipelineRenameError: ``declaration.name`` differs from the pipeline's name; nothing was sent.
            PipelineValidationError: local validation found problems; nothing was sent.
            VersionConflictError: the pipeline is no longer at ``expected_version``; nothing was changed.
            PipelineNotFoundError: no such pipeline.
            InvalidStructureError, InvalidStageDeclarationError, InvalidActionDeclarationError,
                ValidationError: AWS rejected the new structure.
            ArgumentTypeError: ``declaration`` is not a :class:`~pipepilot.PipelineDeclaration` (a wire
                dict: read it with ``PipelineDeclaration.from_api``), or ``expected_version`` is not an
                integer; nothing was sent.
        """
        from pipepilot.model.declaration import PipelineDeclaration

        declaration = check_declaration(declaration)
        check_int(expected_version, "expected_version", optional=True)
        if declaration.name != self._name:
            raise PipelineRenameError(
                f"cannot update pipeline {self._name!r} with a declaration named {declaration.name!r}: "
                f"CodePipeline cannot rename a pipeline; create {declaration.name!r} and delete "
                f"{self._name!r} instead",
                name=self._name,
                new_name=declaration.name,
            )
        if validate:
            declaration.validate()
        if expected_version is not None:
            current = self.declaration().version
            if current != expected_version:
                raise VersionConflictError(
                    f"pipeline {self._name!r} is at version {current}, not {expected_version}: it changed "
                    "since the declaration was read; read it again and reapply the edit",
                    pipeline_name=self._name,
                    expected_version=expected_version,
                    actual_version=current,
                )
        try:
            response = self._calls.call("update_pipeline", idempotent=False, pipeline=declaration.to_api())
        except ResourceNotFoundError as exc:
            # UpdatePipeline models no not-found error; what comes back is the generic one. Say it plainly.
            raise PipelineNotFoundError(
                f"cannot update pipeline {self._name!r}: it does not exist", **aws_details(exc)
            ) from exc
        updated = PipelineDeclaration.from_api(response["pipeline"])
        if (
            expected_version is not None
            and updated.version is not None
            and updated.version > expected_version + 1
        ):
            logger.warning(
                "pipeline %s went from version %s to %s during this update: a concurrent update landed "
                "between the version check and the write, and was overwritten",
                self._name,
                expected_version,
                updated.version,
            )
        logger.info("updated pipeline %s to version %s", self._name, updated.version)
        return updated

    def delete(self) -> None:
        """Delete the pipeline. Deleting a pipeline that does not exist succeeds (as AWS does).

        Raises:
            ConcurrentModificationError: another change to the pipeline is in progress.
        """
        # Idempotent: AWS answers a delete of a missing pipeline with success, so a resend is harmless.
        self._calls.call("delete_pipeline", idempotent=True, name=self._name)
        logger.info("deleted pipeline %s", self._name)

    # -- tags ---------------------------------------------------------------------------------------------

    def tags(self) -> dict[str, str]:
        """The pipeline's tags, as a ``{key: value}`` dict.

        Raises:
            PipelineNotFoundError: no such pipeline.
        """
        arn = self.arn()
        return {
            tag["key"]: tag.get("value", "")
            for tag in self._calls.paginate("list_tags_for_resource", "tags", resourceArn=arn)
        }

    def tag(self, tags: Mapping[str, str] | None = None, /, **more: str) -> None:
        """Add or overwrite tags: ``pipeline.tag({"team": "web"})`` or ``pipeline.tag(team="web")``.

        Tagging with the same values again changes nothing. No tags at all makes no call.

        Raises:
            PipelineNotFoundError: no such pipeline.
            InvalidTagsError: a key is reserved (``aws:``) or invalid.
            TooManyTagsError: the pipeline would carry more tags than allowed.
            ArgumentTypeError: ``tags`` is not a mapping of strings to strings (nothing was sent).
        """
        check_str_map(tags, "tags", example='{"team": "web"}')
        check_str_map(more, "tags", example="team='web'")
        merged = {**(tags or {}), **more}
        if not merged:
            return
        self._calls.call("tag_resource", idempotent=True, resourceArn=self.arn(), tags=_tag_list(merged))

    def untag(self, *keys: str) -> None:
        """Remove the tags with these keys (keys the pipeline does not carry are ignored).

        Raises:
            PipelineNotFoundError: no such pipeline.
            ArgumentTypeError: a key is not a string (nothing was sent).
        """
        for key in keys:
            check_str(key, "keys")
        if not keys:
            return
        self._calls.call("untag_resource", idempotent=True, resourceArn=self.arn(), tagKeys=list(keys))


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in tags.items()]
