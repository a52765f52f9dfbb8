"""The ``pipepilot`` command group: global options (as the AWS CLI has them), output, and exit statuses.

Every command reaches AWS through :class:`Services` (the library's facades, made on first use) and prints
through :class:`Cli` (text for people, or JSON for scripts). Errors end the command with one line on stderr
and the exit status :func:`pipepilot.cli._exits.exit_code_for` gives; ``-v`` adds the traceback and
pipepilot's debug log (which never holds a secret: botocore's own debug log, which holds request bodies and
so approval tokens, stays off).

Nothing here imports boto3 or the library's modules at import time: ``pipepilot --help`` costs click and
this package only.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from typing import TYPE_CHECKING, Any

import click

from pipepilot.cli import _exits

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from pipepilot.codebuild import CodeBuild
    from pipepilot.pipelines import CodePipeline

__all__ = ["Cli", "Services", "cli", "run"]

logger = logging.getLogger(__name__)

OUTPUTS = ("text", "json")


class Services:
    """Where the commands get their AWS facades from: made once, on first use.

    Given ``codepipeline`` (and optionally ``codebuild``) facades, those are used as they are (this is how
    tests hand the command an offline world's facades). Otherwise they are built from ``profile``,
    ``region`` and ``endpoint_url`` like the AWS CLI's options: with an endpoint, pipepilot's CodePipeline,
    CodeBuild and CloudWatch Logs clients all send to it (for ``pipepilot local serve``), each making one
    attempt per request so that pipepilot's retry policy is the only retrying layer.
    """

    def __init__(
        self,
        *,
        codepipeline: CodePipeline | None = None,
        codebuild: CodeBuild | None = None,
        profile: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        self._codepipeline = codepipeline
        self._codebuild = codebuild
        self.profile = profile
        self.region = region
        self.endpoint_url = endpoint_url
        self._session: Any = None

    def with_options(self, *, profile: str | None, region: str | None, endpoint_url: str | None) -> Services:
        """These services, or new ones for the options given on the command line (injected facades win)."""
        if self._codepipeline is not None:
            return self
        return Services(profile=profile, region=region, endpoint_url=endpoint_url)

    def _boto_session(self, *, always: bool = False) -> Any:
        """The boto3 session of ``--profile`` (``None`` without one: the library's default session), or
        with ``always`` a session of its own (one for every client made here: credentials resolve once)."""
        if self._session is None and (self.profile is not None or always):
            import boto3
            from botocore.exceptions import BotoCoreError

            from pipepilot.errors import translate_settings_error

            try:
                self._session = boto3.session.Session(profile_name=self.profile)
            except BotoCoreError as error:
                mapped = translate_settings_error(error, "cannot use the AWS profile")
                if mapped is None:
                    raise
                raise mapped from error
        return self._session

    def _client(self, service: str) -> Any:
        """A client of ``service`` for the endpoint, one attempt per request (pipepilot retries)."""
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError

        from pipepilot import __version__
        from pipepilot.errors import REGION_HINT, RegionNotSetError, translate_settings_error

        session = self._boto_session(always=True)
        if self.region is None and session.region_name is None:
            # botocore would sign for a made-up region rather than refuse: say it as the AWS CLI does.
            raise RegionNotSetError(f"cannot create a {service} client: no AWS region is set; {REGION_HINT}")
        config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            user_agent_extra=f"pipepilot/{__version__} pipepilot-cli",
        )
        try:
            return session.client(
                service, region_name=self.region, endpoint_url=self.endpoint_url, config=config
            )
        except BotoCoreError as error:
            mapped = translate_settings_error(error, f"cannot create a {service} client")
            if mapped is None:
                raise
            raise mapped from error

    def codepipeline(self) -> CodePipeline:
        """The CodePipeline facade.

        Raises:
            ConfigurationError: the profile does not exist, or (with an endpoint) no region is set.
        """
        if self._codepipeline is None:
            from pipepilot.pipelines import CodePipeline

            if self.endpoint_url is not None:
                self._codepipeline = CodePipeline(self._client("codepipeline"))
            else:
                self._codepipeline = CodePipeline(session=self._boto_session(), region_name=self.region)
        return self._codepipeline

    def codebuild(self) -> CodeBuild:
        """The CodeBuild facade (with its CloudWatch Logs client), configured like :meth:`codepipeline`."""
        if self._codebuild is None:
            if self.endpoint_url is not None:
                from pipepilot.codebuild import CodeBuild

                self._codebuild = CodeBuild(self._client("codebuild"), self._client("logs"))
            else:
                self._codebuild = self.codepipeline().codebuild()
        return self._codebuild


class Cli:
    """What a command needs besides its arguments: the services, and how to print."""

    def __init__(self, *, services: Services, output: str, verbose: bool, color: bool) -> None:
        self.services = services
        self.output = output
        self.verbose = verbose
        self.color = color

    @property
    def json(self) -> bool:
        """Whether the output is JSON (``--output json``)."""
        return self.output == "json"

    def codepipeline(self) -> CodePipeline:
        """The CodePipeline facade (see :class:`Services`)."""
        return self.services.codepipeline()

    def codebuild(self) -> CodeBuild:
        """The CodeBuild facade (see :class:`Services`)."""
        return self.services.codebuild()

    def emit(self, data: Any, text: Callable[[], Iterable[str]] | Iterable[str]) -> None:
        """Print a command's result: ``data`` as JSON, or the lines of ``text`` for people."""
        if self.json:
            click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
            return
        for line in text() if callable(text) else text:
            click.echo(line)

    def say(self, line: str) -> None:
        """A progress line for people: on stdout, or on stderr when stdout carries JSON."""
        click.echo(line, err=self.json)

    def style(self, text: str, status: object) -> str:
        """``text`` coloured by the status it shows (when colour is on; click strips it off a pipe)."""
        if not self.color:
            return text
        colour = _STATUS_COLOURS.get(str(status).lower())
        return click.style(text, fg=colour) if colour else text


_STATUS_COLOURS = {
    "succeeded": "green",
    "failed": "red",
    "fault": "red",
    "timed_out": "red",
    "inprogress": "cyan",
    "in_progress": "cyan",
    "stopped": "yellow",
    "stopping": "yellow",
    "superseded": "yellow",
    "cancelled": "yellow",
    "abandoned": "yellow",
    "disabled": "yellow",
}


class _Group(click.Group):
    """The root group: every ending becomes one line on stderr and the documented exit status."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> int:
        """Run the command; exit with its status (``standalone_mode``), or return it."""
        code = self._run(args, prog_name, complete_var, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(
        self, args: Sequence[str] | None, prog_name: str | None, complete_var: str | None, **extra: Any
    ) -> int:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as error:
            # Bad syntax, an unknown option, a missing file: the AWS CLI's 252, not click's 2.
            error.show()
            return _exits.BAD_PARAMETER
        except click.Abort:
            click.echo("pipepilot: interrupted", err=True)
            return _exits.INTERRUPTED
        # ctx.exit(code) and click.exceptions.Exit(code) arrive here as that code; a command returns None.
        return result if isinstance(result, int) else _exits.OK

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("pipepilot: interrupted", err=True)
            raise click.exceptions.Exit(_exits.INTERRUPTED) from None
        except Exception as error:
            state = ctx.find_object(Cli)
            verbose = state.verbose if state is not None else False
            raise click.exceptions.Exit(report_error(error, verbose=verbose)) from None


def report_error(error: BaseException, *, verbose: bool) -> int:
    """Print ``error`` as one line on stderr (with the traceback when ``verbose``); return its exit status."""
    from pipepilot.errors import REGION_HINT, RegionNotSetError

    code = _exits.exit_code_for(error)
    if verbose:
        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, RegionNotSetError):  # the library's hint names its keyword; here it is an option
        text = text.replace(REGION_HINT, "pass --region REGION, or set AWS_REGION (or AWS_DEFAULT_REGION)")
    click.echo(f"pipepilot: {type(error).__name__}: {text}", err=True)
    if code == _exits.OTHER and not verbose:
        click.echo("pipepilot: run again with -v for the traceback", err=True)
    return code


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--profile", metavar="NAME", help="The AWS profile to use (as the AWS CLI's --profile).")
@click.option("--region", metavar="REGION", help="The AWS region (default: AWS_REGION, the config file).")
@click.option(
    "--endpoint-url",
    metavar="URL",
    help="Send CodePipeline, CodeBuild and CloudWatch Logs requests there (e.g. pipepilot local serve).",
)
@click.option(
    "--output",
    type=click.Choice(OUTPUTS),
    default="text",
    show_default=True,
    help="text for people, json for scripts (fields in docs/cli.md).",
)
@click.option("--no-color", is_flag=True, help="No colours (also when NO_COLOR is set).")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging of pipepilot (never secrets); tracebacks.")
@click.version_option(package_name="pipepilot", prog_name="pipepilot", message="%(prog)s %(version)s")
@click.pass_context
def cli(
    ctx: click.Context,
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
    output: str,
    no_color: bool,
    verbose: bool,
) -> None:
    """Follow, approve, freeze and check AWS CodePipeline releases and CodeBuild builds.

    Exit statuses: 0 ok; watch, start --wait and build watch: 1 failed, 3 stopped/superseded/cancelled,
    4 timed out; validate: 1 problems found; errors as the AWS CLI: 130 interrupted, 252 bad parameter,
    253 configuration or credentials, 254 service error, 255 other.
    """
    injected = ctx.obj if isinstance(ctx.obj, Services) else Services()
    services = injected.with_options(profile=profile, region=region, endpoint_url=endpoint_url)
    color = not no_color and not os.environ.get("NO_COLOR")
    if not color:
        ctx.color = False
    if verbose:
        ctx.call_on_close(_debug_logging())
    ctx.obj = Cli(services=services, output=output, verbose=verbose, color=color)


def _debug_logging() -> Callable[[], None]:
    """pipepilot's loggers at DEBUG on stderr, until the returned function puts things back (when the
    command ends: a program running several commands keeps its own logging). botocore's loggers stay as
    they are: its debug log holds request bodies, and so approval tokens."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package = logging.getLogger("pipepilot")
    level = package.level
    package.addHandler(handler)
    package.setLevel(logging.DEBUG)

    def restore() -> None:
        package.removeHandler(handler)
        package.setLevel(level)

    return restore


def run(argv: Sequence[str] | None = None, *, services: Services | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return its exit status.

    ``services`` replaces the facades the command would build (tests pass an offline world's).
    """
    from pipepilot.cli._commands import cli as command

    args = list(sys.argv[1:] if argv is None else argv)
    return int(command.main(args=args, prog_name="pipepilot", standalone_mode=False, obj=services))
