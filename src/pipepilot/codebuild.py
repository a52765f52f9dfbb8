"""The CodeBuild facade: CodeBuild (and the CloudWatch Logs its builds write to) in one account and region.

:class:`CodeBuild` hands out the handles of :mod:`pipepilot.builds` (:class:`~pipepilot.builds.Project`,
:class:`~pipepilot.builds.Build`) and reads many builds at once. It lives apart from them so that creating
the facade and its first client costs what boto3's client does: the handles, their waits and the build
models (attrs classes) load with the first call that needs them.

::

    codebuild = CodeBuild(region_name="eu-west-1")            # no client yet
    build = codebuild.project("web").start(env={"STAGE": "prod"})   # StartBuild (idempotent)
    details = build.wait(on_phase=lambda phase: print(phase.phase_type))

``BatchGetBuilds`` takes at most 100 ids: :meth:`CodeBuild.get_builds` and :meth:`CodeBuild.refresh` cut
their ids into batches of 100 (refreshing 250 builds is 3 calls).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pipepilot._checks import check_client, check_facade_options, check_instances, type_name
from pipepilot._facade import Facade, settings_for
from pipepilot.errors import ArgumentTypeError, RequestValidationError, ResourceNotFoundError

if TYPE_CHECKING:
    from collections.abc import Callable

    import boto3
    from botocore.config import Config
    from mypy_boto3_codebuild.client import CodeBuildClient
    from mypy_boto3_logs.client import CloudWatchLogsClient

    from pipepilot._calls import Caller, RetryPolicy
    from pipepilot.builds import Build, Project
    from pipepilot.model.build import BuildDetails

__all__ = ["BATCH_SIZE", "CodeBuild", "codebuild_beside"]

#: The most ids one ``BatchGetBuilds`` call accepts (enforced by the service; botocore checks only the minimum).
BATCH_SIZE = 100


class CodeBuild(Facade["CodeBuildClient"]):
    """CodeBuild in one account and region: open projects and builds, read many builds at once.

    Pass boto3 clients to use them as they are (their own retry configuration is respected, see
    :class:`~pipepilot.RetryPolicy`): ``client`` for CodeBuild, ``logs_client`` for CloudWatch Logs (read by
    :meth:`Build.logs`). A client not given is created on first use from ``session`` (default: boto3's
    default session, shared by every facade), ``region_name`` (default: the injected client's region, if
    there is one, so the two clients agree) and ``config``. ``retry`` is the retry policy; ``clock``
    (monotonic seconds) and ``sleep`` default to pipepilot's time source, looked up at each call, so
    :func:`pipepilot.local.offline` applies. They are also the defaults of :meth:`Build.wait` and
    :meth:`Build.logs`. ``CodePipeline.codebuild()`` returns one configured like the CodePipeline facade.

    Raises:
        ArgumentTypeError: an option has the wrong type (the text names it and what to pass), or both
            clients and options to build them were given.
    """

    service_name = "codebuild"

    def __init__(
        self,
        client: CodeBuildClient | None = None,
        logs_client: CloudWatchLogsClient | None = None,
        *,
        session: boto3.session.Session | None = None,
        region_name: str | None = None,
        config: Config | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        check_client(client, "client", "codebuild")
        check_client(logs_client, "logs_client", "logs")
        check_facade_options(
            session=session, region_name=region_name, config=config, retry=retry, clock=clock, sleep=sleep
        )
        if (
            client is not None
            and logs_client is not None
            and (session is not None or region_name is not None or config is not None)
        ):
            raise ArgumentTypeError(
                "pass either both clients, or session/region_name/config to build them, not both",
                parameter="client",
            )
        injected = client if client is not None else logs_client
        self._configure(client, settings_for(injected, session, region_name, config, retry, clock, sleep))
        self._logs_calls: Caller[CloudWatchLogsClient] = self._settings.caller("logs", logs_client)

    @property
    def logs_client(self) -> CloudWatchLogsClient:
        """The boto3 CloudWatch Logs client (created now if it was not injected and not yet needed)."""
        return self._logs_calls.client

    # -- handles ------------------------------------------------------------------------------------------

    def project(self, name: str) -> Project:
        """A handle on the project called ``name``; no call is made until the handle is used.

        Raises:
            RequestValidationError: ``name`` is not a non-empty string.
        """
        if not isinstance(name, str) or not name:
            raise RequestValidationError(f"a CodeBuild project name is a non-empty string, not {name!r}")
        from pipepilot.builds import Project

        return Project(service=self, name=name)

    def build(self, build_id: str) -> Build:
        """A handle on one build, by id (``<project>:<uuid>``) or ARN; no call is made until it is used.

        The ARN form is what CodeBuild's EventBridge events carry (``detail.build-id``).

        Raises:
            RequestValidationError: ``build_id`` is not a build id or build ARN.
        """
        from pipepilot.builds import Build

        return Build(service=self, id=_build_id(build_id))

    # -- reading many builds ------------------------------------------------------------------------------

    def get_builds(self, ids: Iterable[str], *, missing_ok: bool = False) -> list[BuildDetails]:
        """The details of the builds ``ids`` (ids or ARNs), in the order asked, in batches of 100 per call.

        An id asked twice is fetched once and returned twice. With ``missing_ok=True`` unknown ids are left
        out of the result; otherwise they raise, after every batch was read.

        Raises:
            RequestValidationError: an id is not a build id or ARN (nothing was sent).
            ResourceNotFoundError: some ids name no build (the message lists them); not with ``missing_ok``.
            ArgumentTypeError: ``ids`` is one string, not an iterable of them (nothing was sent).
        """
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
            raise ArgumentTypeError(
                f"ids must be an iterable of build ids, not {type_name(ids)}; for one build pass [build_id]",
                parameter="ids",
            )
        wanted = [_build_id(build_id) for build_id in ids]
        found, missing = self._fetch(wanted)
        if missing and not missing_ok:
            shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            raise ResourceNotFoundError(
                f"{len(missing)} of {len(set(wanted))} builds do not exist: {shown}",
                operation_name="BatchGetBuilds",
            )
        return [found[build_id] for build_id in wanted if build_id in found]

    def refresh(self, builds: Iterable[Build]) -> list[BuildDetails]:
        """The current details of ``builds``, in the same order, reading 100 builds per ``BatchGetBuilds`` call.

        Raises:
            ResourceNotFoundError: some builds no longer exist (the message lists them).
            ArgumentTypeError: ``builds`` is not an iterable of :class:`Build` handles (for ids, use
                :meth:`get_builds`).
        """
        from pipepilot.builds import Build

        handles = check_instances(
            builds, Build, "builds", optional=False, hint="for build ids use get_builds(ids)"
        )
        return self.get_builds(build.id for build in handles)

    def _fetch(self, ids: Sequence[str]) -> tuple[dict[str, BuildDetails], list[str]]:
        """Read ``ids`` (deduplicated, in batches of :data:`BATCH_SIZE`): found builds by id, and missing ids."""
        unique = list(dict.fromkeys(ids))
        found: dict[str, BuildDetails] = {}
        missing: list[str] = []
        for start in range(0, len(unique), BATCH_SIZE):
            batch_found, batch_missing = self._fetch_batch(unique[start : start + BATCH_SIZE])
            found.update(batch_found)
            missing.extend(batch_missing)
        return found, missing

    def _fetch_batch(self, ids: Sequence[str]) -> tuple[dict[str, BuildDetails], list[str]]:
        from pipepilot.model.build import BuildDetails

        response = self._calls.call("batch_get_builds", idempotent=True, ids=list(ids))
        found: dict[str, BuildDetails] = {}
        for item in response.get("builds") or ():
            details = BuildDetails.from_api(item)
            if details.id is not None:
                found[details.id] = details
        # AWS answers by id; anything asked for and not answered is missing, whether or not it was listed.
        missing = [build_id for build_id in ids if build_id not in found]
        return found, missing


def codebuild_beside(caller: Caller[Any]) -> CodeBuild:
    """The CodeBuild facade configured like the facade ``caller`` belongs to, in its region (made once per
    caller: ``CodePipeline.codebuild()`` and ``action.build()`` share it)."""
    return caller.companion("codebuild", CodeBuild._from_settings)


def _build_id(value: object) -> str:
    """A build id from an id or a build ARN (``arn:...:codebuild:<region>:<account>:build/<project>:<uuid>``)."""
    if isinstance(value, str):
        build_id = value.partition(":build/")[2] if value.startswith("arn:") else value
        project, _, run = build_id.partition(":")
        if project and run:
            return build_id
    raise RequestValidationError(f"a CodeBuild build id is '<project>:<id>' or a build ARN, not {value!r}")
