"""Check any value against a botocore shape and report every problem at once.

botocore validates only required members, types and minimums before it sends a request; the service checks
maximums, patterns and enum values itself and reports them one at a time. This module checks all of them
locally, straight from botocore's service model read at run time (never a hand-copied table), so the
rules follow botocore updates. It is used by `pipepilot.model.validation` for pipeline declarations and by
the offline engine to answer `ValidationException` / `InvalidInputException` the way the service does.

It lives outside `pipepilot.model` because it reads botocore's service model files (through the process's
shared loader, :func:`pipepilot._calls.shared_loader`): the model classes stay pure data that does no I/O,
and validation asks this module for the shapes it checks against.

Choices where AWS is silent:

* Patterns are applied to the whole value (`re.fullmatch`), as AWS's naming rules imply. They are compiled
  with `re.ASCII` (Java's `\\w` and `\\d` are ASCII) and `re.DOTALL` so that free-text patterns such as
  `.*` do not reject multi-line text; whether AWS accepts line breaks there is unconfirmed, and a false
  positive costs the user more than a miss. Patterns Python's `re` cannot compile (for example Java's
  `\\p{L}`) are skipped with a DEBUG log.
* JSON `null` counts as an absent member: AWS's JSON protocol treats it that way.
* Lengths are counted in code points, not UTF-16 units; they differ only for characters outside the BMP.
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
import re
import weakref
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard, cast

import attrs

if TYPE_CHECKING:
    from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

__all__ = [
    "ShapeProblem",
    "check_shape",
    "describe_pattern_problem",
    "is_secret_shape",
    "member_path",
    "request_problems",
    "service_model",
    "validation_message",
]

logger = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class ShapeProblem:
    """One way a value breaks its botocore shape.

    `path` locates the value (`stages[2].actions[0].inputArtifacts[0].name`; empty for the root), `code` is
    stable (`required`, `unknown-member`, `type`, `too-short`, `too-long`, `pattern`, `enum`, `too-few`,
    `too-many`, `out-of-range`) and `message` says how to fix it.

    `constraint`, `quoted` and `wire_path` describe the same problem as the service words it (see
    :func:`validation_message`): the broken constraint ("Member must have length less than or equal to
    100"), the value as the service quotes it (`'text'`, `null`; None where it quotes nothing: lists, maps
    and secrets) and, for a map entry, the map's path (the service names the map, not the key).
    """

    path: str
    code: str
    message: str
    constraint: str = attrs.field(default="", eq=False, repr=False)
    quoted: str | None = attrs.field(default=None, eq=False, repr=False)
    wire_path: str | None = attrs.field(default=None, eq=False, repr=False)

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.message} [{self.code}]"


_Check = Callable[[object, str, list[ShapeProblem]], None]


class _StringCheck(Protocol):
    def __call__(self, value: object, path: str, out: list[ShapeProblem], is_key: bool = False) -> None: ...


# Compiled checkers per root shape. Keys are weak so a discarded service model does not stay alive; the
# shapes we validate against (operation inputs, our cached PipelineDeclaration) are long-lived objects.
_compiled: weakref.WeakKeyDictionary[Shape, _Check] = weakref.WeakKeyDictionary()

_MAX_SHOWN = 80  # characters of an offending value quoted in a message
_BARE_KEY = re.compile(r"[A-Za-z_@-][A-Za-z0-9_@-]*")
_PATTERN_FLAGS = re.ASCII | re.DOTALL


@functools.cache
def service_model(service: str) -> ServiceModel:
    """The botocore service model of `service` (for example `"codepipeline"`), loaded once on first use.

    It is read through the process's shared data loader, the one pipepilot's clients are built with, so
    the model file is parsed once whether validation or a client needs it first.
    """
    # Imported here, not at the top: botocore costs about as much as boto3 itself, and `import pipepilot`
    # must stay cheap for Lambda cold starts.
    from botocore.model import ServiceModel

    from pipepilot._calls import shared_loader

    return ServiceModel(shared_loader().load_service_model(service, "service-2"), service_name=service)


def is_secret_shape(shape: Shape) -> bool:
    """Whether values of `shape` are secrets that no message may quote.

    That is what the model marks `sensitive` (credentials), and the tokens and nonces that authorise an
    answer (an approval token, a job nonce, a third-party job's client token), which it does not mark.
    """
    return bool(shape.metadata.get("sensitive")) or "Token" in shape.name or shape.name == "Nonce"


def check_shape(shape: Shape, value: object, path: str = "") -> Iterator[ShapeProblem]:
    """Yield every way `value` (a JSON-like request value) breaks `shape`, in document order.

    `path` is the location of `value` itself and prefixes every reported path. The checker compiled for
    `shape` is cached, so pass the same shape object on repeated calls (botocore caches operation input
    shapes; `service_model(...).shape_for(...)` builds a new object per call).
    """
    checker = _compiled.get(shape)
    if checker is None:
        checker = _compiled[shape] = _compile(shape, {})
    problems: list[ShapeProblem] = []
    checker(value, path, problems)
    yield from problems


def request_problems(service: str, operation: str, params: object) -> list[ShapeProblem]:
    """Every shape problem of a whole operation input, as the service would judge it.

    `params` is the decoded request (for example the JSON body the offline engine received). An operation
    without an input shape accepts only an empty request.

    Raises:
        botocore.exceptions.OperationNotFoundError: `operation` is not an operation of `service`
            (a programming error, not a user input problem).
    """
    input_shape = service_model(service).operation_model(operation).input_shape
    if input_shape is None:
        if isinstance(params, Mapping):
            return [_unknown_member("", key, operation, ()) for key in params]
        return []
    return list(check_shape(input_shape, params))


# --- compilation -------------------------------------------------------------------------------------------


def _compile(shape: Shape, memo: dict[str, _Check]) -> _Check:
    """Build (once per shape name within one root) a closure that checks values against `shape`."""
    known = memo.get(shape.name)
    if known is not None:
        return known
    # Recursive shapes refer back to a shape still being compiled; route them through a late-bound cell.
    cell: list[_Check] = []

    def deferred(value: object, path: str, out: list[ShapeProblem]) -> None:
        cell[0](value, path, out)

    memo[shape.name] = deferred
    builder = _BUILDERS.get(shape.type_name, _compile_anything)
    checker = builder(shape, memo)
    cell.append(checker)
    memo[shape.name] = checker
    return checker


def _is_mapping(value: object) -> TypeGuard[Mapping[Any, Any]]:
    # Exact dicts are by far the common case; the ABC check is several times slower.
    return type(value) is dict or isinstance(value, Mapping)


@functools.lru_cache(maxsize=4096)
def _key_suffix(key: str) -> str:
    return member_path("", key) if not _BARE_KEY.fullmatch(key) else "." + key


def _child_path(path: str, key: str) -> str:
    suffix = _key_suffix(key)
    return path + suffix if path else suffix.lstrip(".")


def _compile_structure(shape: Shape, memo: dict[str, _Check]) -> _Check:
    shape = cast("StructureShape", shape)
    if shape.is_document_type:
        return _compile_anything(shape, memo)
    # Member names are identifiers, so their path suffix is fixed: build it once, not per value.
    members = {name: (_compile(member, memo), "." + name) for name, member in shape.members.items()}
    required = tuple(shape.required_members)
    shape_name = shape.name

    def check(value: object, path: str, out: list[ShapeProblem]) -> None:
        if not _is_mapping(value):
            out.append(_type_problem(path, "an object", value))
            return
        for key, item in value.items():
            member = members.get(key)
            if member is None:
                out.append(_unknown_member(path, key, shape_name, members))
            elif item is not None:
                member[0](item, path + member[1] if path else key, out)
        for name in required:
            if value.get(name) is None:
                out.append(
                    ShapeProblem(
                        path=member_path(path, name),
                        code="required",
                        message=f"{name} is required in {shape_name} but missing; add it",
                        constraint="Member must not be null",
                        quoted="null",
                    )
                )

    return check


def _compile_list(shape: Shape, memo: dict[str, _Check]) -> _Check:
    shape = cast("ListShape", shape)
    item_check = _compile(shape.member, memo)
    low, high = shape.metadata.get("min"), shape.metadata.get("max")

    def check(value: object, path: str, out: list[ShapeProblem]) -> None:
        if not isinstance(value, (list, tuple)):
            out.append(_type_problem(path, "a list", value))
            return
        _check_count(len(value), low, high, path, ("item", "items"), out)
        for index, item in enumerate(value):
            item_check(item, f"{path}[{index}]", out)

    return check


def _compile_map(shape: Shape, memo: dict[str, _Check]) -> _Check:
    shape = cast("MapShape", shape)
    key_check = _compile_string(shape.key, memo)
    value_check = _compile(shape.value, memo)
    low, high = shape.metadata.get("min"), shape.metadata.get("max")

    def check(value: object, path: str, out: list[ShapeProblem]) -> None:
        if not _is_mapping(value):
            out.append(_type_problem(path, "an object", value))
            return
        _check_count(len(value), low, high, path, ("entry", "entries"), out)
        for key, item in value.items():
            item_path = _child_path(path, key) if isinstance(key, str) else member_path(path, key)
            first = len(out)
            key_check(key, item_path, out, True)
            after_key = len(out)
            value_check(item, item_path, out)
            if len(out) > first:
                _name_the_map(out, first, after_key, path, item_path)

    return check


def _compile_string(shape: Shape, memo: dict[str, _Check]) -> _StringCheck:
    metadata = shape.metadata
    low, high = metadata.get("min"), metadata.get("max")
    enum: tuple[str, ...] = tuple(metadata.get("enum", ()))
    enum_set = frozenset(enum)
    pattern_text: str | None = metadata.get("pattern")
    pattern = _compiled_pattern(pattern_text) if pattern_text is not None else None
    secret = is_secret_shape(shape)

    def check(value: object, path: str, out: list[ShapeProblem], is_key: bool = False) -> None:
        """Check a string; `is_key` marks a map key, whose messages name the key rather than the path."""
        if not isinstance(value, str):
            out.append(_type_problem(path, "a string", value))
            return
        length = len(value)
        quoted = None if secret else _quoted(value)
        if low is not None and length < low:
            problem = _length_problem(_subject(path, value, is_key), path, "too-short", length, low, high)
            out.append(attrs.evolve(problem, quoted=quoted))
            if length == 0:
                return  # an empty value breaks the pattern too; one problem is enough
        elif high is not None and length > high:
            problem = _length_problem(_subject(path, value, is_key), path, "too-long", length, low, high)
            out.append(attrs.evolve(problem, quoted=quoted))
        if enum_set and value not in enum_set:
            out.append(
                attrs.evolve(_enum_problem(_subject(path, value, is_key), path, value, enum), quoted=quoted)
            )
        elif pattern is not None and pattern.fullmatch(value) is None:
            assert pattern_text is not None
            subject = _subject(path, value, is_key)
            message = describe_pattern_problem(subject, value, pattern_text, secret=secret)
            out.append(
                ShapeProblem(
                    path=path,
                    code="pattern",
                    message=message,
                    constraint=f"Member must satisfy regular expression pattern: {pattern_text}",
                    quoted=quoted,
                )
            )

    return check


def _compile_integer(shape: Shape, memo: dict[str, _Check]) -> _Check:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    integral = shape.type_name in ("integer", "long")
    expected = "an integer" if integral else "a number"
    accepted: tuple[type, ...] = (int,) if integral else (int, float)

    def check(value: object, path: str, out: list[ShapeProblem]) -> None:
        if isinstance(value, bool) or not isinstance(value, accepted):
            out.append(_type_problem(path, expected, value))
            return
        assert isinstance(value, (int, float))
        if (low is not None and value < low) or (high is not None and value > high):
            out.append(
                ShapeProblem(
                    path=path,
                    code="out-of-range",
                    message=f"{_label(path)} is {value}; use a value {_bounds_text(low, high)}",
                    constraint=(
                        f"Member must have value greater than or equal to {low}"
                        if low is not None and value < low
                        else f"Member must have value less than or equal to {high}"
                    ),
                    quoted=_quoted(value),
                )
            )

    return check


def _compile_boolean(shape: Shape, memo: dict[str, _Check]) -> _Check:
    def check(value: object, path: str, out: list[ShapeProblem]) -> None:
        if not isinstance(value, bool):
            out.append(_type_problem(path, "a boolean (true or false)", value))

    return check


def _compile_timestamp(shape: Shape, memo: dict[str, _Check]) -> _Check:
    # botocore accepts datetimes, ISO-8601 strings and epoch numbers; the JSON wire carries epoch seconds.
    def check(value: object, path: str, out: list[ShapeProblem]) -> None:
        if isinstance(value, bool) or not isinstance(value, (date, int, float, str)):
            out.append(_type_problem(path, "a timestamp (epoch seconds, ISO-8601 text or datetime)", value))

    return check


def _compile_blob(shape: Shape, memo: dict[str, _Check]) -> _Check:
    def check(value: object, path: str, out: list[ShapeProblem]) -> None:
        if not isinstance(value, (bytes, bytearray, str)) and not hasattr(value, "read"):
            out.append(_type_problem(path, "bytes", value))

    return check


def _compile_anything(shape: Shape, memo: dict[str, _Check]) -> _Check:
    """Document types (and any type a future botocore adds) accept every value."""

    def check(value: object, path: str, out: list[ShapeProblem]) -> None:
        return None

    return check


_BUILDERS: Mapping[str, Callable[[Shape, dict[str, _Check]], _Check]] = {
    "structure": _compile_structure,
    "list": _compile_list,
    "map": _compile_map,
    "string": _compile_string,
    "integer": _compile_integer,
    "long": _compile_integer,
    "float": _compile_integer,
    "double": _compile_integer,
    "boolean": _compile_boolean,
    "timestamp": _compile_timestamp,
    "blob": _compile_blob,
}


@functools.cache
def _compiled_pattern(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern, _PATTERN_FLAGS)
    except re.error as exc:
        logger.debug("Skipping model pattern %r that Python's re cannot compile: %s", pattern, exc)
        return None


# --- messages ----------------------------------------------------------------------------------------------


def member_path(path: str, key: object) -> str:
    """The path of member or map key `key` under `path`: `a.b`, or `a["key with.dots"]` for odd keys."""
    text = str(key)
    if _BARE_KEY.fullmatch(text):
        return f"{path}.{text}" if path else text
    return f"{path}[{json.dumps(text)}]"


def _label(path: str) -> str:
    """The name a message uses for the value at `path`: its last member name, else the whole path."""
    if not path:
        return "value"
    last = path.rsplit(".", 1)[-1]
    return last if _BARE_KEY.fullmatch(last) else path


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "...'"


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _type_problem(path: str, expected: str, value: object) -> ShapeProblem:
    message = f"{_label(path)} must be {expected}, not {_json_type(value)}"
    return ShapeProblem(path=path, code="type", message=message, constraint=message)


def _unknown_member(
    path: str, key: object, shape_name: str, known: Mapping[str, Any] | tuple[()]
) -> ShapeProblem:
    names = list(known)
    message = f"{_shown(key)} is not a member of {shape_name}; remove it"
    close = difflib.get_close_matches(str(key), names, n=1)
    if close:
        message += f" (did you mean {close[0]!r}?)"
    if names:
        message += f"; known members: {', '.join(names)}"
    return ShapeProblem(
        path=member_path(path, key), code="unknown-member", message=message, constraint=message
    )


def _bounds_text(low: int | None, high: int | None) -> str:
    if low is not None and low == high:
        return f"of exactly {low}"
    if low is not None and high is not None:
        return f"between {low} and {high}"
    if low is not None:
        return f"of at least {low}"
    return f"of at most {high}"


def _subject(path: str, value: str, is_key: bool) -> str:
    return f"key {_shown(value)}" if is_key else _label(path)


def _length_problem(
    subject: str, path: str, code: str, length: int, low: int | None, high: int | None
) -> ShapeProblem:
    if length == 0:
        message = f"{subject} is empty; give it at least {_quantity(low or 1, 'character')}"
    elif code == "too-short":
        message = f"{subject} is {_quantity(length, 'character')} long; it needs at least {low}"
    else:
        message = f"{subject} is {_quantity(length, 'character')} long; shorten it to at most {high}"
    return ShapeProblem(path=path, code=code, message=message, constraint=_length_constraint(code, low, high))


def _quantity(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {plural or noun + 's'}"


def _check_count(
    count: int, low: int | None, high: int | None, path: str, unit: tuple[str, str], out: list[ShapeProblem]
) -> None:
    if low is not None and count < low:
        message = f"{_label(path)} has {_quantity(count, *unit)}; it needs at least {low}"
        constraint = _length_constraint("too-short", low, high)
        out.append(ShapeProblem(path=path, code="too-few", message=message, constraint=constraint))
    elif high is not None and count > high:
        message = f"{_label(path)} has {_quantity(count, *unit)}; remove some to keep at most {high}"
        constraint = _length_constraint("too-long", low, high)
        out.append(ShapeProblem(path=path, code="too-many", message=message, constraint=constraint))


def _enum_problem(subject: str, path: str, value: str, allowed: tuple[str, ...]) -> ShapeProblem:
    message = f"{subject} {_shown(value)} is not one of {', '.join(allowed)}"
    close = difflib.get_close_matches(value, allowed, n=1, cutoff=0.5)
    if close:
        message += f"; did you mean {close[0]!r}?"
    else:
        message += "; use one of them"
    constraint = f"Member must satisfy enum value set: [{', '.join(allowed)}]"
    return ShapeProblem(path=path, code="enum", message=message, constraint=constraint)


def _length_constraint(code: str, low: int | None, high: int | None) -> str:
    if code == "too-short":
        return f"Member must have length greater than or equal to {low}"
    return f"Member must have length less than or equal to {high}"


def _quoted(value: object) -> str:
    """A value as the service quotes it in a validation message: the whole text between single quotes."""
    return f"'{value}'"


def _name_the_map(out: list[ShapeProblem], first: int, after_key: int, path: str, item_path: str) -> None:
    """Word a map entry's problems as the service does: they name the map and wrap the entry's constraint."""
    wire_path = _wire_path(path)
    for index in range(first, len(out)):
        problem = out[index]
        if problem.path != item_path or problem.wire_path is not None:
            continue  # a problem deeper inside a structured value keeps its own path
        kind = "Map keys" if index < after_key else "Map value"
        out[index] = attrs.evolve(
            problem,
            constraint=f"{kind} must satisfy constraint: [{problem.constraint}]",
            quoted=None,
            wire_path=wire_path,
        )


_INDEX = re.compile(r"\[(\d+)\]")


def _wire_path(path: str) -> str:
    """`stages[0].actions[1].name` in the service's notation: `stages.1.member.actions.2.member.name`."""
    return _INDEX.sub(lambda match: f".{int(match[1]) + 1}.member", path)


def validation_message(problems: list[ShapeProblem], *, prefix: str = "") -> str:
    """Every problem in one message worded as AWS's JSON services word ``ValidationException``.

    ``2 validation errors detected: Value 'a b' at 'pipeline.name' failed to satisfy constraint: Member must
    satisfy regular expression pattern: [A-Za-z0-9.@\\-_]+; Value at 'tags' failed to satisfy ...``.
    ``prefix`` is the request member the paths are inside (``pipeline`` for a declaration's problems).
    Secret values are never quoted.
    """
    parts = []
    for problem in problems:
        location = problem.wire_path if problem.wire_path is not None else _wire_path(problem.path)
        if prefix:
            location = f"{prefix}.{location}" if location else prefix
        value = f"Value {problem.quoted} at" if problem.quoted is not None else "Value at"
        parts.append(
            f"{value} '{location}' failed to satisfy constraint: {problem.constraint or problem.message}"
        )
    count = len(problems)
    return f"{count} validation error{'s' if count != 1 else ''} detected: " + "; ".join(parts)


# A pattern made of one character class and a quantifier, e.g. `[A-Za-z0-9.@\-_]+`; only these get a
# character-level explanation ("contains ' ' which is not allowed; allowed: letters, digits and . @ - _").
_SIMPLE_PATTERN = re.compile(
    r"\^?\[(?P<body>(?:\\.|[^\]\\^])(?:\\.|[^\]\\])*)\](?P<quantifier>[+*]|\{\d+(?:,\d*)?\})\$?"
)
_CLASS_ATOM = re.compile(r"\\(?P<escape>.)|(?P<first>[^\\])-(?P<last>[^\\\]])|(?P<char>[^\\])", re.DOTALL)
_NAMED_CHARACTERS = {" ": "space", "\t": "tab", "\n": "newline"}


@functools.cache
def _allowed_characters(pattern: str) -> tuple[str, re.Pattern[str], int, int | None] | None:
    """For a simple one-class pattern: (description, single-character regex, min count, max count)."""
    match = _SIMPLE_PATTERN.fullmatch(pattern)
    if match is None:
        return None
    groups: list[str] = []
    punctuation: list[str] = []
    cases: set[str] = set()

    def add(group: str) -> None:
        if group not in groups:
            groups.append(group)

    for atom in _CLASS_ATOM.finditer(match["body"]):
        if atom["escape"] is not None:
            escape = atom["escape"]
            if escape == "w":
                cases.update(("lower", "upper"))
                add("letters")
                add("digits")
                punctuation.append("_")
            elif escape == "d":
                add("digits")
            elif escape.isalnum():
                return None  # \s, \p{..} and friends: not a plain character list
            else:
                punctuation.append(escape)
        elif atom["first"] is not None:
            span = atom["first"] + "-" + atom["last"]
            if span in ("a-z", "A-Z"):
                cases.add("lower" if span == "a-z" else "upper")
                add("letters")
            elif span == "0-9":
                add("digits")
            else:
                add(f"{atom['first']} to {atom['last']}")
        else:
            char = atom["char"]
            if char in _NAMED_CHARACTERS:
                add(_NAMED_CHARACTERS[char])
            else:
                punctuation.append(char)
    if "letters" in groups and len(cases) == 1:
        groups[groups.index("letters")] = f"{cases.pop()}case letters"
    body = match["body"]
    parts = [*groups, " ".join(punctuation)] if punctuation else groups
    description = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    quantifier = match["quantifier"]
    if quantifier == "+":
        low, high = 1, None
    elif quantifier == "*":
        low, high = 0, None
    else:
        low_text, _, high_text = quantifier[1:-1].partition(",")
        low = int(low_text)
        high = (int(high_text) if high_text else None) if "," in quantifier else low
    try:
        single = re.compile(f"[{body}]", _PATTERN_FLAGS)
    except re.error:
        return None
    return description, single, low, high


def _length_text(low: int, high: int | None) -> str:
    if low == high:
        return f"exactly {low}"
    return f"between {low} and {high}" if high is not None else f"at least {low}"


def _quote_character(char: str) -> str:
    name = _NAMED_CHARACTERS.get(char)
    return f"{char!r} ({name})" if name else repr(char)


def describe_pattern_problem(label: str, value: str, pattern: str, *, secret: bool = False) -> str:
    """Explain why `value` fails `pattern` and how to fix it.

    For simple one-character-class patterns the message names the characters that are not allowed and
    lists the allowed ones ("reason contains ',' and '_' which are not allowed; allowed: letters, digits,
    space and ! @ ( ) . * ? -"); otherwise it quotes the pattern, and the value. A `secret` value is
    never quoted, not even character by character.
    """
    allowed = _allowed_characters(pattern)
    if allowed is not None:
        description, single, low, high = allowed
        offending = [char for char in dict.fromkeys(value) if single.fullmatch(char) is None]
        if offending and secret:
            return f"{label} contains characters that are not allowed; allowed: {description}"
        if offending:
            shown = [_quote_character(char) for char in offending]
            listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
            verb = "is" if len(shown) == 1 else "are"
            return f"{label} contains {listed} which {verb} not allowed; allowed: {description}"
        return f"{label} must be {_length_text(low, high)} characters long, using only {description}"
    shown_value = "" if secret else f" {_shown(value)}"
    return (
        f"{label}{shown_value} does not match the pattern {pattern} (the whole value must match); correct it"
    )
