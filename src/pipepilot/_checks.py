"""Argument checks at the public boundary: a wrong type is refused with an error naming the parameter.

pipepilot checks what it is given once, where it enters the library, before anything is read or sent: a
``dict`` where a declaration belongs, a number where an execution id belongs, a string where a mapping
belongs. Each check raises :class:`~pipepilot.errors.ArgumentTypeError` (a ``TypeError``) or
:class:`~pipepilot.errors.InvalidArgumentError` (a ``ValueError``), both pipepilot errors, whose text
starts with the parameter's name and says what to pass instead, rather than letting an
``AttributeError`` escape from deep inside. Values are described by type only, never quoted in full: a
caller may hand over a secret, or something huge.

Nothing here is public; the live objects call these helpers first thing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, TypeVar

from pipepilot.errors import ArgumentTypeError, InvalidArgumentError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pipepilot.model.declaration import PipelineDeclaration

__all__ = [
    "check_callable",
    "check_client",
    "check_declaration",
    "check_facade_options",
    "check_instances",
    "check_int",
    "check_number",
    "check_str",
    "check_str_map",
    "check_wait_options",
    "shown",
    "type_name",
    "validating_fields",
]

T = TypeVar("T")

# Longest excerpt of a wrong value shown in an error (the type is always shown).
_SHOWN = 40


def type_name(value: object) -> str:
    """``int``, ``str``, ``dict`` ...: how a wrong value is described (its content is not quoted)."""
    return "None" if value is None else type(value).__name__


def shown(value: object) -> str:
    """``repr(value)`` cut to a readable length: an error may quote what it refused, but never a megabyte."""
    try:
        text = repr(value)
    except RecursionError:
        return f"a {type_name(value)} nested too deep to show"
    return (
        text
        if len(text) <= _SHOWN * 2
        else f"{text[: _SHOWN * 2 - 1]}… ({type_name(value)}, {len(text)} characters)"
    )


def _refuse(parameter: str, expected: str, value: object, hint: str = "") -> ArgumentTypeError:
    text = f"{parameter} must be {expected}, not {type_name(value)}"
    if hint:
        text += f"; {hint}"
    return ArgumentTypeError(text, parameter=parameter)


def check_str(value: object, parameter: str, *, optional: bool = False, empty: bool = False) -> None:
    """Refuse ``value`` unless it is a ``str`` (non-empty unless ``empty``; ``None`` when ``optional``).

    Raises:
        ArgumentTypeError: not a string.
        InvalidArgumentError: an empty string where a name or id is needed.
    """
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise _refuse(parameter, "a string" + (" or None" if optional else ""), value)
    if not value and not empty:
        raise InvalidArgumentError(f"{parameter} must not be empty", parameter=parameter)


def check_int(value: object, parameter: str, *, optional: bool = False) -> None:
    """Refuse ``value`` unless it is an ``int`` (not a ``bool``; ``None`` when ``optional``).

    Raises:
        ArgumentTypeError: not an integer.
    """
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise _refuse(parameter, "an integer" + (" or None" if optional else ""), value)


def check_number(value: object, parameter: str, *, optional: bool = False) -> None:
    """Refuse ``value`` unless it is an ``int`` or ``float`` (not a ``bool``; ``None`` when ``optional``).

    Raises:
        ArgumentTypeError: not a number.
    """
    if value is None and optional:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _refuse(parameter, "a number" + (" or None" if optional else ""), value)


def check_callable(value: object, parameter: str, *, optional: bool = True) -> None:
    """Refuse ``value`` unless it is callable (or ``None`` when ``optional``).

    Raises:
        ArgumentTypeError: not callable.
    """
    if value is None and optional:
        return
    if not callable(value):
        raise _refuse(parameter, "a callable" + (" or None" if optional else ""), value)


def check_client(value: object, parameter: str, service: str) -> None:
    """Refuse ``value`` unless it is a boto3 client of ``service`` (or ``None``).

    A client is recognised by what botocore gives every client (``meta.service_model.service_name``), so
    a client wrapped for testing (botocore's ``Stubber``) passes too.

    Raises:
        ArgumentTypeError: not a boto3 client, or a client of another service.
    """
    if value is None:
        return
    model = getattr(getattr(value, "meta", None), "service_model", None)
    name = getattr(model, "service_name", None)
    if not isinstance(name, str):
        raise _refuse(parameter, f"a boto3 {service} client or None", value, f"boto3.client({service!r})")
    if name != service:
        raise ArgumentTypeError(
            f"{parameter} must be a boto3 {service} client, not a {name} client", parameter=parameter
        )


def check_facade_options(
    *,
    session: object,
    region_name: object,
    config: object,
    retry: object,
    clock: object,
    sleep: object,
) -> None:
    """Check the options a service facade is built from, before anything is created.

    Raises:
        ArgumentTypeError: an option has the wrong type (the text names it and what to pass).
    """
    if session is not None and not callable(getattr(session, "client", None)):
        raise _refuse("session", "a boto3.session.Session or None", session)
    check_str(region_name, "region_name", optional=True)
    if config is not None:
        from botocore.config import Config  # loaded with the first client anyway

        if not isinstance(config, Config):
            raise _refuse("config", "a botocore.config.Config or None", config)
    if retry is not None:
        from pipepilot._retry import RetryPolicy

        if not isinstance(retry, RetryPolicy):
            hint = ""
            if isinstance(retry, int) and not isinstance(retry, bool):
                hint = f"for {retry} attempts pass retry=RetryPolicy(max_attempts={retry})"
            raise _refuse("retry", "a RetryPolicy or None", retry, hint)
    for name, value, example in (
        ("clock", clock, "time.monotonic"),
        ("sleep", sleep, "time.sleep"),
    ):
        if value is not None and not callable(value):
            raise _refuse(name, "a callable or None", value, f"for example {name}={example}")


def check_str_map(value: object, parameter: str, *, optional: bool = True, example: str = "") -> None:
    """Refuse ``value`` unless it is a mapping of ``str`` to ``str`` (or ``None`` when ``optional``).

    ``example`` shows the expected form in the message (``{"name": "value"}``).

    Raises:
        ArgumentTypeError: not a mapping, or a key or value is not a string.
    """
    if value is None and optional:
        return
    hint = f"for example {example}" if example else ""
    if not isinstance(value, Mapping):
        raise _refuse(parameter, "a mapping of strings to strings", value, hint)
    for key, item in value.items():
        if not isinstance(key, str):
            raise _refuse(f"{parameter} key", "a string", key, hint)
        if not isinstance(item, str):
            raise _refuse(f"{parameter}[{_excerpt(key)!r}]", "a string", item, hint)


def check_instances(
    value: object, cls: type[T], parameter: str, *, optional: bool = True, hint: str = ""
) -> tuple[T, ...]:
    """``value`` as a tuple, refused unless it is an iterable (not a string or mapping) of ``cls`` objects.

    ``None`` is an empty tuple when ``optional``.

    Raises:
        ArgumentTypeError: not such an iterable, or an item of another type.
    """
    if value is None and optional:
        return ()
    expected = f"an iterable of {cls.__name__}"
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise _refuse(parameter, expected, value, hint)
    items = tuple(value)
    for index, item in enumerate(items):
        if not isinstance(item, cls):
            raise _refuse(f"{parameter}[{index}]", f"a {cls.__name__}", item, hint)
    return items


def check_declaration(value: object, parameter: str = "declaration") -> PipelineDeclaration:
    """``value`` if it is a :class:`~pipepilot.PipelineDeclaration`; a wire ``dict`` is refused with the
    way to read one.

    Raises:
        ArgumentTypeError: not a declaration.
    """
    from pipepilot.model.declaration import PipelineDeclaration, PipelineDocument

    if isinstance(value, PipelineDeclaration):
        return value
    hint = ""
    if isinstance(value, PipelineDocument):
        hint = f"pass {parameter}.declaration"
    elif isinstance(value, Mapping):
        hint = (
            "read the wire dict first: PipelineDeclaration.from_api(d) (or "
            "PipelineDocument.from_api(response).declaration for a whole GetPipeline response)"
        )
    elif isinstance(value, (str, bytes)):
        hint = "read pipeline JSON first: PipelineDocument.from_json(text).declaration"
    raise _refuse(parameter, "a PipelineDeclaration", value, hint)


def check_wait_options(
    *,
    poll: object = None,
    callbacks: Mapping[str, object] | None = None,
) -> None:
    """Check the options every wait takes, before its first call: ``poll`` a :class:`~pipepilot.PollPolicy`, each of ``callbacks`` a callable.

    Raises:
        ArgumentTypeError: an option has the wrong type.
    """
    from pipepilot.polling import PollPolicy

    if poll is not None and not isinstance(poll, PollPolicy):
        hint = ""
        if isinstance(poll, (int, float)) and not isinstance(poll, bool):
            hint = (
                f"for a poll interval pass poll=PollPolicy(interval={poll!r}); "
                f"for a deadline, poll=PollPolicy(timeout={poll!r})"
            )
        raise _refuse("poll", "a PollPolicy or None", poll, hint)
    for name, callback in (callbacks or {}).items():
        hint = "for example on_progress=print_progress" if name == "on_progress" else ""
        if callback is not None and not callable(callback):
            raise _refuse(name, "a callable or None", callback, hint)


@contextlib.contextmanager
def validating_fields(what: str) -> Iterator[None]:
    """Turn the ``ValueError``/``TypeError`` an attrs class raises while it is built into a pipepilot error
    naming the field.

    attrs' own validators raise ``ValueError(message, attribute, ...)`` (the second argument names the
    field); pipepilot's validators raise a ``ValueError`` whose text starts with the field name. Both
    become :class:`~pipepilot.errors.InvalidArgumentError` (``TypeError`` from a converter:
    :class:`~pipepilot.errors.ArgumentTypeError`), with ``parameter`` the field and ``what`` naming the
    thing being built.

    Raises:
        InvalidArgumentError / ArgumentTypeError: the value of a field was refused.
    """
    try:
        yield
    except (InvalidArgumentError, ArgumentTypeError):
        raise
    except (ValueError, TypeError) as error:
        field: str | None = None
        text = str(error)
        if len(error.args) >= 2 and hasattr(error.args[1], "name"):
            field = str(error.args[1].name)
            text = str(error.args[0])
        elif text.split(" ", 1)[0].isidentifier():
            field = text.split(" ", 1)[0]
        cls = ArgumentTypeError if isinstance(error, TypeError) else InvalidArgumentError
        raise cls(f"{what}: {text}", parameter=field) from None


def _excerpt(value: str) -> str:
    return value if len(value) <= _SHOWN else value[: _SHOWN - 1] + "…"
