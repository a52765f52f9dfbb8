"""What the service facades (:class:`~pipepilot.CodePipeline`, :class:`~pipepilot.CodeBuild`) share.

A facade stands for one service in one account and region. It keeps the :class:`~pipepilot._calls.ClientSettings`
it was made with (session, region, botocore config, retry policy, clock, sleep), so that another facade
reached through it (``cp.codebuild()``, ``action.build()``) is configured the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pipepilot._calls import Caller, ClientSettings
from pipepilot._checks import check_client, check_facade_options
from pipepilot.errors import ArgumentTypeError

if TYPE_CHECKING:
    from collections.abc import Callable

    import boto3
    from botocore.client import BaseClient
    from botocore.config import Config

    from pipepilot._retry import RetryPolicy

__all__ = ["Facade", "settings_for"]

ClientT = TypeVar("ClientT", bound="BaseClient")
FacadeT = TypeVar("FacadeT", bound="Facade[Any]")


class Facade(Generic[ClientT]):
    """A service facade: its client settings, its main :class:`~pipepilot._calls.Caller`, and the
    constructors and properties every facade offers.

    Pass a boto3 ``client`` to use it as it is, or let pipepilot create one on first use from ``session``
    (default: boto3's default session, shared by every facade and by ``boto3.client()``), ``region_name``
    and ``config``. ``retry`` is the retry
    policy; ``clock`` (monotonic seconds) and ``sleep`` default to pipepilot's time source, looked up at
    each call, so :func:`pipepilot.local.offline` applies.

    Raises:
        ArgumentTypeError: an option has the wrong type (``client="x"``, ``retry=3``, ``clock=1``: the text
            names the option and what to pass), or both a client and options to build one were given.
    """

    #: The boto3 name of the facade's service (``"codepipeline"``, ``"codebuild"``).
    service_name: ClassVar[str]

    def __init__(
        self,
        client: ClientT | None = None,
        *,
        session: boto3.session.Session | None = None,
        region_name: str | None = None,
        config: Config | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        check_client(client, "client", self.service_name)
        check_facade_options(
            session=session, region_name=region_name, config=config, retry=retry, clock=clock, sleep=sleep
        )
        if client is not None and (session is not None or region_name is not None or config is not None):
            raise ArgumentTypeError(
                "pass either a client, or session/region_name/config to build one, not both",
                parameter="client",
            )
        self._configure(client, settings_for(client, session, region_name, config, retry, clock, sleep))

    def _configure(self, client: ClientT | None, settings: ClientSettings) -> None:
        """Call ``client`` (or one created from ``settings`` on first use) through a caller keeping them."""
        self._calls: Caller[ClientT] = settings.caller(self.service_name, client)

    @property
    def _settings(self) -> ClientSettings:
        """The settings the facade creates clients from and retries with (its main caller's)."""
        return self._calls.settings

    @classmethod
    def from_session(
        cls: type[FacadeT],
        session: boto3.session.Session | None = None,
        *,
        region_name: str | None = None,
        config: Config | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> FacadeT:
        """A facade whose clients are created (on first use) from ``session`` (default: boto3's default session).

        Raises:
            ArgumentTypeError: an option has the wrong type.
        """
        check_facade_options(
            session=session, region_name=region_name, config=config, retry=retry, clock=clock, sleep=sleep
        )
        return cls._from_settings(settings_for(None, session, region_name, config, retry, clock, sleep))

    @classmethod
    def _from_settings(cls: type[FacadeT], settings: ClientSettings) -> FacadeT:
        """A facade whose clients are created (on first use) from ``settings``."""
        return cls(
            session=settings.session,
            region_name=settings.region_name,
            config=settings.config,
            retry=settings.retry_if_given,
            clock=settings.clock,
            sleep=settings.sleep,
        )

    @property
    def client(self) -> ClientT:
        """The facade's boto3 client (created now if it was not injected and not yet needed).

        Raises:
            RegionNotSetError: no region is named (``region_name=``, ``AWS_REGION``, the config file).
            ProfileNotFoundError: ``AWS_PROFILE`` names a profile that does not exist.
        """
        return self._calls.client

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of every call this facade makes."""
        return self._settings.retry

    def __repr__(self) -> str:
        # Never create the client just to print the facade.
        client = self._calls.client_if_created
        region = client.meta.region_name if client is not None else "<client not created yet>"
        return f"{type(self).__name__}(region={region!r})"


def settings_for(
    injected: BaseClient | None,
    session: boto3.session.Session | None,
    region_name: str | None,
    config: Config | None,
    retry: RetryPolicy | None,
    clock: Callable[[], float] | None,
    sleep: Callable[[float], None] | None,
) -> ClientSettings:
    """A facade's settings from its constructor's options; ``injected`` is a client it was given, if any."""
    # A client created next to an injected one lives in its region, unless told otherwise.
    if region_name is None and injected is not None:
        region_name = injected.meta.region_name
    return ClientSettings(
        session=session,
        region_name=region_name,
        config=config,
        retry=retry,
        clock=clock,
        sleep=sleep,
    )
