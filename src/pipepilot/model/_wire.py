"""Shared mechanics for reading and writing AWS wire dicts losslessly.

The model classes promise ``X.from_api(d).to_api() == d`` for anything AWS can return, including members
pipepilot does not know yet. Three rules make that hold, and this module implements them once:

* **Absent stays absent.** An optional member that was missing reads as ``None`` and is not written back.
  A *required* member that was missing (only invalid input does that) reads as :data:`ABSENT_STR`,
  :data:`ABSENT_TUPLE` or a model's own placeholder instance: an empty value of the right type that
  ``to_api()`` recognises by identity and leaves out.
* **Unknown members ride along.** Keys the model does not know are kept verbatim in the object's ``extra``
  mapping and written back after the modelled members.
* **Nothing is coerced.** A value of an unexpected JSON type (``"runOrder": "2"``, ``"region": null``) is not
  converted or dropped: the attribute reads as absent and the raw value goes to ``extra`` under its own key,
  so it is written back exactly (and validation reports it). Modelled attributes therefore always hold
  values of their declared types.

Enumerations are tolerant: a known string becomes its :class:`WireEnum` member, an unknown one stays a plain
``str`` (AWS adds categories, modes and results over time; rejecting them would break reading).

Timestamps follow one policy with two knobs (:func:`timestamp_parser`): every timestamp a model holds is
an aware UTC ``datetime``. A ``datetime`` (what botocore parses, in the machine's local zone) is converted;
epoch numbers and ISO-8601 strings are converted only where a model asks for it; anything else, or a value
out of range, goes to ``extra`` like any other misfit.

Each model declares each wire member once, in its attrs field's metadata (:func:`string`,
:func:`enum_of`, :func:`struct`, :func:`structs`, ...; the key is the camelCase of the attribute name unless
given), and :func:`extra_field` declares its ``extra``. :class:`WireModel` (and :class:`TypedWireModel`,
whose ``to_api`` is typed with a boto3 TypedDict) turns those declarations into ``from_api``/``to_api``:
on a class's first use it generates the source of a reader and a writer specialised to its fields (as attrs
generates ``__init__``), compiles them once and installs them on the class. Adding an AWS member to a model
is one line: its field.

The generated code sits on the ``from_api``/``to_api`` hot path (a 500-action declaration reads and writes
in well under half the time botocore takes to parse it), so it is written as a careful hand would write it
for each class: exact-type tests, identity checks, no per-member function calls for the common kinds.
"""

from __future__ import annotations

import enum
import linecache
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Final, Generic, NoReturn, TypeVar, cast

import attrs

from pipepilot._checks import shown
from pipepilot.errors import MalformedInputError, NestingTooDeepError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "ABSENT_STR",
    "ABSENT_TUPLE",
    "BAD",
    "EMPTY_EXTRA",
    "MAX_NESTING",
    "NOTHING",
    "Member",
    "TypedWireModel",
    "WireEnum",
    "WireModel",
    "add_extra",
    "boolean",
    "camel_case",
    "check_nesting",
    "concealed_repr",
    "copy_json",
    "enum_of",
    "enum_table",
    "enum_wire",
    "enums_of",
    "extra_field",
    "integer",
    "keys_only_repr",
    "load_json",
    "nested_within",
    "parse_iso_timestamp",
    "record_fields",
    "record_to_dict",
    "require_mapping",
    "string",
    "string_map",
    "strings",
    "struct",
    "struct_map",
    "structs",
    "timestamp",
    "timestamp_parser",
    "utc_datetime",
    "view_fields",
    "wire_members",
]

_E = TypeVar("_E", bound=enum.Enum)
_D = TypeVar("_D")
_M = TypeVar("_M", bound="TypedWireModel[Any]")


class _AbsentStr(str):
    """The type of :data:`ABSENT_STR`; a singleton that survives copy and pickle as itself."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<absent>"

    def __reduce__(self) -> str:
        # A string from __reduce__ names a module global: copy.copy/deepcopy and pickle keep the singleton,
        # so an absent member stays absent (not "present and empty") through copies.
        return "ABSENT_STR"


class _AbsentTuple(tuple):  # type: ignore[type-arg]  # an empty tuple of whatever the field holds
    """The type of :data:`ABSENT_TUPLE`; a singleton that survives copy and pickle as itself."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<absent>"

    def __reduce__(self) -> str:
        return "ABSENT_TUPLE"


ABSENT_STR: Final[str] = _AbsentStr("")
"""Value of a required string member that the input lacked: equal to ``""``, omitted by ``to_api()``."""

ABSENT_TUPLE: Final[tuple[Any, ...]] = _AbsentTuple()
"""Value of a required list member that the input lacked: an empty tuple, omitted by ``to_api()``."""


class _EmptyExtra(dict):  # type: ignore[type-arg]  # always empty, so the value type never matters
    """The type of :data:`EMPTY_EXTRA`: an empty dict that refuses changes and pickles as the singleton.

    A dict subclass rather than ``MappingProxyType``: ``bool()`` and ``len()`` stay C-fast on the to_api hot
    path, and unlike a mapping proxy it survives ``pickle`` and ``copy.deepcopy`` (as itself).
    """

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("EMPTY_EXTRA is shared by every model object and cannot change; evolve(extra={...})")

    __setitem__ = __delitem__ = update = setdefault = pop = popitem = clear = __ior__ = _refuse

    def __reduce__(self) -> str:
        return "EMPTY_EXTRA"


EMPTY_EXTRA: Final[Mapping[str, Any]] = _EmptyExtra()
"""The shared, read-only ``extra`` of every object that had no unknown members (equal to ``{}``)."""


class _Marker:
    """A named sentinel (compared by identity only)."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


NOTHING: Final[Any] = _Marker("NOTHING")
"""Default for ``dict.get``: tells "key missing" apart from a present ``null``."""

BAD: Final[Any] = _Marker("BAD")
"""Returned by a member parser when the raw value has an unexpected type (it then goes to ``extra``)."""


# ----------------------------------------------------------------------------------------------- enums


class WireEnum(str, enum.Enum):
    """Base of every pipepilot enumeration: str-valued, and ``str()`` is the wire value on every Python.

    Being a ``str`` subclass, a member compares equal to its wire string (``status == "Succeeded"``), so
    code reads the same whether a value was known (a member) or new (kept as a plain ``str``).
    """

    def __str__(self) -> str:
        return str(self.value)


_ENUM_TABLES: dict[type[enum.Enum], dict[str, Any]] = {}


def enum_table(enum_type: type[_E]) -> dict[str, _E]:
    """Map each wire string of a str-valued enum to its member, for tolerant parsing with ``dict.get``.

    One table per enum, shared by every model that reads it (so treat it as read-only).
    """
    table = _ENUM_TABLES.get(enum_type)
    if table is None:
        table = _ENUM_TABLES[enum_type] = {member.value: member for member in enum_type}
    return table


def enum_wire(value: enum.Enum | str) -> str:
    """Write an enum member (or an unknown string kept as ``str``) back as a plain wire string."""
    if type(value) is str:
        return value
    if isinstance(value, enum.Enum):
        return str(value._value_)
    # A str subclass (ABSENT_STR never reaches here; to_api skips it) is written as a plain str.
    return str.__str__(value)


def _enum_tuple_parser(table: Mapping[str, Any]) -> Callable[[Any], Any]:
    get = table.get

    def parse(raw: Any) -> Any:
        if type(raw) is list or type(raw) is tuple:
            for item in raw:
                if type(item) is not str:
                    return BAD
            return tuple([get(item, item) for item in raw])
        return BAD

    return parse


# ------------------------------------------------------------------------------------------ primitives


def _parse_str_tuple(raw: Any) -> Any:
    if type(raw) is list or type(raw) is tuple:
        for item in raw:
            if type(item) is not str:
                return BAD
        return tuple(raw)
    return BAD


def _parse_str_map(raw: Any) -> Any:
    if type(raw) is dict or isinstance(raw, Mapping):
        for key, value in raw.items():
            if type(key) is not str or type(value) is not str:
                return BAD
        # A copy: the caller keeps ownership of its dict, the model must not change under it.
        return dict(raw)
    return BAD


#: How many levels of lists and objects pipepilot reads inside one value it keeps verbatim (an unknown
#: member, a misfit value). AWS's structures nest a handful of levels; anything near this deep is a mistake
#: or an attack, and following it would exhaust Python's recursion limit.
MAX_NESTING: Final = 100


class _TooDeep(Exception):
    """Internal: :func:`copy_json` went past :data:`MAX_NESTING` (turned into NestingTooDeepError)."""


def copy_json(value: Any) -> Any:
    """Copy the containers of a JSON-like value, so stored extras never alias a caller's dicts or lists.

    Raises:
        NestingTooDeepError: *value* nests deeper than :data:`MAX_NESTING`; ``path`` is relative to it.
    """
    if type(value) is not dict and type(value) is not list:
        return value
    try:
        return _copy(value, MAX_NESTING)
    except (_TooDeep, RecursionError):
        raise nesting_error(_too_deep_path(value, MAX_NESTING), origin=value) from None


def _copy(value: Any, room: int) -> Any:
    if type(value) is dict:
        if not room:
            raise _TooDeep
        return {key: _copy(item, room - 1) for key, item in value.items()}
    if type(value) is list:
        if not room:
            raise _TooDeep
        return [_copy(item, room - 1) for item in value]
    return value


def _path_join(path: str, part: str | int) -> str:
    """``path`` extended by a key or index, written as pipepilot writes paths (``stages[0].name``)."""
    if isinstance(part, int):
        return f"{path}[{part}]"
    if part.isidentifier():
        return f"{path}.{part}" if path else part
    return f"{path}[{part!r}]"


def _too_deep_path(value: Any, limit: int) -> str:
    """The path of the first container inside *value* that lies deeper than *limit* (found without
    recursion, so it works however deep *value* goes)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if type(item) is dict or isinstance(item, Mapping):
            children: list[tuple[str | int, Any]] = [(str(key), child) for key, child in item.items()]
        elif type(item) is list or type(item) is tuple:
            children = list(enumerate(item))
        else:
            continue
        if depth >= limit:
            return path
        for key, child in reversed(children):
            stack.append((child, _path_join(path, key), depth + 1))
    return ""


_SHOWN_PATH = 100  # characters of a very long path shown in the message (the error keeps it whole)


def nesting_error(
    path: str, limit: int = MAX_NESTING, what: str = "input", *, origin: object = None
) -> NestingTooDeepError:
    """The error for *what* nesting deeper than *limit* at *path* (not raised).

    *origin* is the value *path* starts from: each reader the error passes on its way out finds it among
    its own members (by identity) and puts that member's key in front of the path (:func:`nested_within`).
    """
    shown = path or "<root>"
    if len(shown) > _SHOWN_PATH:
        shown = shown[: _SHOWN_PATH // 2] + " … " + shown[-_SHOWN_PATH // 2 :]
    error = NestingTooDeepError(
        f"{what} nests lists and objects deeper than {limit} levels, at {shown}: no AWS structure nests "
        "that deep, nor does any record pipepilot writes; nothing was read",
        path=path,
        limit=limit,
    )
    error.origin = origin
    return error


def nested_within(error: NestingTooDeepError, container: Any) -> NestingTooDeepError:
    """*error* as seen from *container*: its path prefixed with the key or index under which *container*
    holds the value the path started from (*error* unchanged if it holds no such value)."""
    if type(container) is dict or isinstance(container, Mapping):
        items: Any = container.items()
    elif type(container) is list or type(container) is tuple:
        items = enumerate(container)
    else:
        return error
    for key, child in items:
        if child is error.origin:
            part = _path_join("", key)
            inner = error.path or ""
            if inner:
                part = part + inner if inner.startswith("[") else f"{part}.{inner}"
            return nesting_error(part, error.limit, origin=container)
    return error


def load_json(text: str | bytes | bytearray, *, what: str) -> Any:
    """``json.loads(text)``, refusing text that nests too deep for Python's parser (or for pipepilot).

    Raises:
        json.JSONDecodeError: the text is not JSON.
        NestingTooDeepError: it nests deeper than :data:`MAX_NESTING`; ``path`` says where.
    """
    import json

    try:
        data = json.loads(text)
    except RecursionError:
        raise nesting_error(_json_too_deep_path(text, MAX_NESTING), what=what) from None
    check_nesting(data, what=what)
    return data


def check_nesting(value: Any, *, what: str) -> None:
    """Refuse *value* (decoded JSON: dicts and lists) if it nests deeper than :data:`MAX_NESTING`.

    Raises:
        NestingTooDeepError: it does; ``path`` says where.
    """
    if type(value) is dict or type(value) is list:
        try:
            _copy(value, MAX_NESTING)
        except (_TooDeep, RecursionError):
            raise nesting_error(_too_deep_path(value, MAX_NESTING), what=what) from None


def _json_too_deep_path(text: str | bytes | bytearray, limit: int) -> str:
    """The path where JSON *text* first nests deeper than *limit*, found by scanning its brackets.

    Only used once ``json.loads`` gave up, so it can assume brackets outside strings are structure; keys
    are read as written (escapes left as they are).
    """
    source = text.decode("utf-8", "replace") if isinstance(text, (bytes, bytearray)) else text
    # Each open container: [index of the current item, or None in an object] and its path.
    stack: list[tuple[list[int] | None, str]] = []
    key: str | None = None
    position, length = 0, len(source)
    while position < length:
        char = source[position]
        if char == '"':
            end = position + 1
            while end < length and source[end] != '"':
                end += 2 if source[end] == "\\" else 1
            token = source[position + 1 : end]
            position = end + 1
            # A string followed by ':' is an object's key.
            rest = source[position : position + 64].lstrip()
            if stack and stack[-1][0] is None and rest.startswith(":"):
                key = token
            continue
        if char in "[{":
            if len(stack) >= limit:
                return stack[-1][1] if stack else ""
            parent = stack[-1] if stack else None
            if parent is None:
                path = ""
            elif parent[0] is None:
                path = _path_join(parent[1], key or "")
            else:
                path = _path_join(parent[1], parent[0][0])
            stack.append(([0] if char == "[" else None, path))
        elif char in "]}":
            if stack:
                stack.pop()
        elif char == "," and stack and stack[-1][0] is not None:
            counter = stack[-1][0]
            assert counter is not None
            counter[0] += 1
        position += 1
    return ""


# ------------------------------------------------------------------------------------------- timestamps


def utc_datetime(moment: datetime) -> datetime:
    """*moment* as an aware UTC datetime; a naive one is taken to be UTC already, as AWS's times are.

    botocore hands over datetimes in the reading machine's local zone; normalising them means a time reads
    (and prints) the same wherever it was read. Aware datetimes compare equal across zones, so a model
    that normalises still writes back a value equal to the one it read.

    Raises:
        OverflowError: the moment in UTC falls outside ``datetime``'s range (year 1 to 9999).
    """
    if moment.tzinfo is timezone.utc:
        return moment
    if moment.utcoffset() is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def parse_iso_timestamp(text: str) -> datetime:
    """An aware UTC datetime from ISO-8601 *text*; a trailing ``Z`` or no offset at all means UTC.

    Raises:
        ValueError: *text* is not an ISO-8601 date and time.
        OverflowError: the time in UTC falls outside ``datetime``'s range.
    """
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return utc_datetime(datetime.fromisoformat(text))


def timestamp_parser(*, from_epoch: bool = False, from_iso: bool = False) -> Callable[[Any], Any]:
    """The member parser of a timestamp: every value it accepts becomes an aware UTC ``datetime``.

    It accepts datetimes (what botocore hands over, in the machine's local zone), and also epoch seconds
    (*from_epoch*) or ISO-8601 strings (*from_iso*) for models read from raw JSON bodies or saved files.
    Anything else, or a value out of ``datetime``'s range, is :data:`BAD` (so it rides in ``extra``).
    """

    def parse(raw: Any) -> Any:
        try:
            if isinstance(raw, datetime):
                return utc_datetime(raw)
            if from_epoch and (type(raw) is float or type(raw) is int):
                return datetime.fromtimestamp(raw, tz=timezone.utc)
            if from_iso and type(raw) is str:
                return parse_iso_timestamp(raw)
        except (ValueError, OverflowError, OSError):
            return BAD
        return BAD

    return parse


# ------------------------------------------------------------------------------------- field declarations
#
# A model declares each wire member once, on its attrs field:
#
#     run_order: int | None = attrs.field(default=None, metadata=wire.integer())
#
# The metadata says how the value travels (its kind) and under which key (camelCase of the attribute name
# unless ``key=`` says otherwise). Whether the member is required follows from the field: one without a
# default, or whose default is a placeholder (ABSENT_STR, ABSENT_TUPLE), is required. On the first
# ``from_api``/``to_api`` of a class, :func:`_compile` turns its fields into the source of a reader and a
# writer specialised to that class (as attrs writes ``__init__``), compiles them once and caches them on the
# class; nothing is generated at import time.
#
# A small model of plain values that a big declaration repeats (an action type, an input artifact name) can
# say ``_wire_intern: ClassVar[bool] = True``: its reader then hands out one shared (immutable) instance
# per distinct complete input instead of building equal ones again, a large part of what keeps reading a
# big declaration fast.

_WIRE: Final = "pipepilot.wire"
"""The attrs metadata key under which a field's :class:`_Spec` is stored."""

# The kinds of member. The first five are read and written inline by the generated code; the others call
# a parser (which returns BAD on a misfit) and, where the value must be copied out, a dumper.
_STR, _INT, _BOOL, _ENUM, _STRUCT = "str", "int", "bool", "enum", "struct"
_STRUCTS, _STRS, _ENUMS, _STR_MAP, _STRUCT_MAP, _TIMESTAMP = (
    "structs",
    "strs",
    "enums",
    "str_map",
    "struct_map",
    "timestamp",
)


#: How many shared instances an interned model keeps (then it starts over), so a long-lived process reading
#: ever new values cannot grow the cache without bound.
_INTERN_LIMIT: Final = 2048


class _Spec:
    """What a field's metadata declares: the member's kind, wire key and kind-specific details."""

    __slots__ = ("enum_type", "keep_raw", "key", "kind", "model", "parse", "placeholder")

    def __init__(
        self,
        kind: str,
        key: str | None,
        *,
        model: Any = None,
        enum_type: type[enum.Enum] | None = None,
        placeholder: Any = None,
        parse: Callable[[Any], Any] | None = None,
        keep_raw: bool = False,
    ) -> None:
        self.kind = kind
        self.key = key
        self.model = model
        self.enum_type = enum_type
        self.placeholder = placeholder
        self.parse = parse
        self.keep_raw = keep_raw


def _meta(spec: _Spec) -> dict[str, Any]:
    return {_WIRE: spec}


def string(*, key: str | None = None) -> dict[str, Any]:
    """Field metadata of a string member."""
    return _meta(_Spec(_STR, key))


def integer(*, key: str | None = None) -> dict[str, Any]:
    """Field metadata of an integer member (``True`` or ``"2"`` is no integer: it goes to ``extra``)."""
    return _meta(_Spec(_INT, key))


def boolean(*, key: str | None = None) -> dict[str, Any]:
    """Field metadata of a boolean member (``1`` or ``"true"`` is no boolean: it goes to ``extra``)."""
    return _meta(_Spec(_BOOL, key))


def timestamp(
    *, key: str | None = None, from_epoch: bool = False, from_iso: bool = False, keep_raw: bool = False
) -> dict[str, Any]:
    """Field metadata of a timestamp member, held as an aware UTC ``datetime`` (:func:`timestamp_parser`).

    With *keep_raw* the value is also kept as read in the model's ``raw_timestamps`` field, and written
    back in that form while it still means the same moment (an epoch number may carry more digits than a
    ``datetime`` holds).
    """
    parse = timestamp_parser(from_epoch=from_epoch, from_iso=from_iso)
    return _meta(_Spec(_TIMESTAMP, key, parse=parse, keep_raw=keep_raw))


def enum_of(enum_type: type[enum.Enum], *, key: str | None = None) -> dict[str, Any]:
    """Field metadata of a tolerant enumeration: known strings become members, unknown ones stay ``str``."""
    return _meta(_Spec(_ENUM, key, enum_type=enum_type))


def strings(*, key: str | None = None) -> dict[str, Any]:
    """Field metadata of a list of strings, held as a tuple."""
    return _meta(_Spec(_STRS, key, parse=_parse_str_tuple))


def enums_of(enum_type: type[WireEnum], *, key: str | None = None) -> dict[str, Any]:
    """Field metadata of a list of tolerant enumeration values, held as a tuple."""
    return _meta(_Spec(_ENUMS, key, enum_type=enum_type))


def string_map(*, key: str | None = None) -> dict[str, Any]:
    """Field metadata of a string-to-string map (action and rule configuration), held as a copy."""
    return _meta(_Spec(_STR_MAP, key, parse=_parse_str_map))


def struct(model: Any, *, key: str | None = None, placeholder: Any = None) -> dict[str, Any]:
    """Field metadata of a nested model; a required one names the *placeholder* that stands in when the
    input lacked it (an instance ``to_api()`` recognises by identity and leaves out)."""
    return _meta(_Spec(_STRUCT, key, model=model, placeholder=placeholder))


def structs(model: Any, *, key: str | None = None) -> dict[str, Any]:
    """Field metadata of a list of nested models, held as a tuple."""
    return _meta(_Spec(_STRUCTS, key, model=model))


def struct_map(model: Any, *, key: str | None = None) -> dict[str, Any]:
    """Field metadata of a map of string keys to nested models (``artifactStores``)."""
    return _meta(_Spec(_STRUCT_MAP, key, model=model))


def camel_case(name: str) -> str:
    """The wire key AWS uses for a snake_case attribute name: ``role_arn`` -> ``roleArn``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class Member:
    """One wire member of a model, as the generated code sees it: attribute, key, kind, placeholder."""

    __slots__ = ("absent", "attr", "key", "spec")

    def __init__(self, attr: str, key: str, spec: _Spec, absent: Any) -> None:
        self.attr = attr
        self.key = key
        self.spec = spec
        self.absent = absent

    def __repr__(self) -> str:
        return f"Member({self.attr!r}, {self.key!r}, {self.spec.kind!r}, absent={self.absent!r})"


def wire_members(model: type) -> tuple[Member, ...]:
    """The wire members of an attrs *model*, in field order (the order ``to_api`` writes them in).

    Raises:
        TypeError: a required member has no placeholder (a nested model without ``placeholder=``).
    """
    found: list[Member] = []
    for field in attrs.fields(model):
        spec = field.metadata.get(_WIRE)
        if spec is None:
            continue
        default = field.default
        if default is None or default is ABSENT_STR or default is ABSENT_TUPLE:
            absent = default
        elif spec.kind in (_STR, _ENUM):
            absent = ABSENT_STR
        elif spec.kind in (_STRUCTS, _STRS, _ENUMS):
            absent = ABSENT_TUPLE
        elif spec.placeholder is not None:
            absent = spec.placeholder
        elif spec.kind in (_STRUCT, _STRUCT_MAP):
            raise TypeError(f"{model.__name__}.{field.name}: a required member needs a placeholder")
        else:
            absent = None
        found.append(Member(field.name, spec.key or camel_case(field.name), spec, absent))
    return tuple(found)


def _model_of(spec: _Spec, owner: type) -> Any:
    """The nested model class of *spec*; a string names a class of *owner*'s module (a forward reference)."""
    model = spec.model
    if isinstance(model, str):
        import sys

        model = getattr(sys.modules[owner.__module__], model)
    return model


def _parse_struct_map(model: Any) -> Callable[[Any], Any]:
    def parse(raw: Any) -> Any:
        if type(raw) is dict or isinstance(raw, Mapping):
            for key, item in raw.items():
                if type(key) is not str or (type(item) is not dict and not isinstance(item, Mapping)):
                    return BAD
            from_api = model.from_api
            try:
                return {key: from_api(item) for key, item in raw.items()}
            except NestingTooDeepError as error:
                raise nested_within(error, raw) from None
        return BAD

    return parse


def _unknown(data: Mapping[str, Any], known: frozenset[str], rejected: list[str] | None) -> dict[str, Any]:
    """The ``extra`` of *data*: keys the model does not know and values it rejected, copied, in order.

    A ``null`` is never a member's value (no member kind accepts it), so known keys holding one go to
    ``extra`` as well: the generated reader leaves them out of *rejected* to keep its common path short.
    """
    if rejected is None:
        return {key: copy_json(value) for key, value in data.items() if key not in known or value is None}
    return {
        key: copy_json(value)
        for key, value in data.items()
        if key not in known or value is None or key in rejected
    }


def _raw_or(raw_timestamps: Mapping[str, Any], key: str, value: Any, parse: Callable[[Any], Any]) -> Any:
    """The timestamp as it was read, if it still means *value*; else *value* itself."""
    raw = raw_timestamps.get(key, NOTHING)
    if raw is not NOTHING and parse(raw) == value:
        return raw
    return value


class _Codegen:
    """Writes the source of one model's reader and writer from its members (see :func:`_compile`)."""

    def __init__(self, model: type) -> None:
        self.model = model
        self.members = wire_members(model)
        self.names: dict[str, Any] = {
            "OWNER": model,
            "NOTHING": NOTHING,
            "BAD": BAD,
            "EMPTY_EXTRA": EMPTY_EXTRA,
            "Mapping": Mapping,
            "NestingTooDeepError": NestingTooDeepError,
            "nested_within": nested_within,
            "require_mapping": require_mapping,
            "add_extra": add_extra,
            "enum_wire": enum_wire,
            "unknown": _unknown,
            "raw_or": _raw_or,
            "KNOWN": frozenset(member.key for member in self.members),
        }

    def _name(self, prefix: str, index: int, value: Any) -> str:
        name = f"{prefix}{index}"
        self.names[name] = value
        return name

    def reader(self) -> str:
        lines = [
            "def from_api(cls, data):",
            "    if cls is not OWNER:",
            "        return generic_from_api(cls, data)",
            "    if type(data) is not dict:",
            "        data = require_mapping(data, cls)",
            "    try:",
            "        get = data.get",
            "        seen = 0",
            "        rejected = None",
        ]
        raws: list[str] = []
        for index, member in enumerate(self.members):
            spec = member.spec
            absent = "None" if member.absent is None else self._name("A", index, member.absent)
            value = f"v{index}"
            # A missing member and a null one both read as absent here; the null goes to extra (below).
            lines.append(f"        raw = get({member.key!r})")
            lines.append("        if raw is None:")
            lines.append(f"            {value} = {absent}")
            kind = spec.kind
            if kind in (_STR, _INT, _BOOL, _ENUM, _STRUCT):
                if kind == _STRUCT:
                    check = "type(raw) is dict or isinstance(raw, Mapping)"
                    convert = self._nested_read(index, spec, "raw")
                elif kind == _ENUM:
                    check = "type(raw) is str"
                    assert spec.enum_type is not None
                    table = self._name("T", index, enum_table(spec.enum_type).get)
                    convert = f"{table}(raw, raw)"
                else:
                    check = f"type(raw) is {kind}"
                    convert = "raw"
                lines.append(f"        elif {check}:")
                lines.append(f"            {value} = {convert}")
                lines.append("            seen += 1")
                lines.append("        else:")
            else:
                lines.append("        else:")
                lines.extend("            " + line for line in self._converter(index, spec, value))
                lines.append(f"            if {value} is not BAD:")
                lines.append("                seen += 1")
                if spec.keep_raw:
                    raws.append(f"{member.key!r}: raw")
                    lines.append(f"                raws[{member.key!r}] = raw")
                lines.append("            else:")
                lines.append("                " + f"{value} = {absent}")
                lines.append("                rejected = (rejected or []) + [" + repr(member.key) + "]")
                continue
            lines.append(f"            {value} = {absent}")
            lines.append(f"            rejected = (rejected or []) + [{member.key!r}]")
        if self.model.__dict__.get("_wire_intern"):
            lines.extend(self._interning())
        lines.append("        extra = unknown(data, KNOWN, rejected) if seen != len(data) else EMPTY_EXTRA")
        lines.append("    except NestingTooDeepError as error:")
        lines.append("        raise nested_within(error, data) from None")
        values = {member.attr: f"v{index}" for index, member in enumerate(self.members)}
        values["extra"] = "extra"
        if raws:
            values["raw_timestamps"] = "raws or EMPTY_EXTRA"
            lines.insert(9, "        raws = {}")
        lines.extend(self._construct("built", values, "    "))
        lines.append("    return built")
        return "\n".join(lines)

    def _construct(self, target: str, values: dict[str, str], indent: str) -> list[str]:
        """Lines that build the instance into *target* from attribute -> expression *values*.

        Where attrs' ``__init__`` would only store each value (no converter, validator, factory or init
        hook: the case of every wire model), the instance is built by setting its slots directly, as
        ``__init__`` itself does but without matching a dozen keyword arguments per object. Otherwise
        ``cls(...)`` is called.
        """
        setters = self._slot_setters()
        if setters is None:
            arguments = ", ".join(f"{attr}={expression}" for attr, expression in values.items())
            return [f"{indent}{target} = cls({arguments})"]
        lines = [f"{indent}{target} = new(cls)"]
        for position, field in enumerate(attrs.fields(self.model)):
            expression = values.get(field.name)
            if expression is None:
                expression = self._name("D", position, field.default)
            lines.append(f"{indent}{setters[field.name]}({target}, {expression})")
        return lines

    def _slot_setters(self) -> dict[str, str] | None:
        model = self.model
        if hasattr(model, "__attrs_pre_init__") or hasattr(model, "__attrs_post_init__"):
            return None
        setters: dict[str, str] = {}
        for position, field in enumerate(attrs.fields(model)):
            if field.converter is not None or field.validator is not None or not field.init:
                return None
            if field.default is attrs.NOTHING and field.name not in {m.attr for m in self.members}:
                return None
            if isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]  # Factory is a class
                return None
            slot: Any = next(
                (k.__dict__[field.name] for k in model.__mro__ if field.name in k.__dict__), None
            )
            if slot is None or type(slot).__name__ != "member_descriptor":
                return None
            setters[field.name] = self._name("S", position, slot.__set__)
        self.names["new"] = object.__new__
        return setters

    def _nested_read(self, index: int, spec: _Spec, argument: str) -> str:
        """The expression that reads a nested model from *argument*: its ``from_api``, whose own code is
        generated when it is first called (so reading a pipeline never compiles models it does not hold)."""
        model = self._name("M", index, _model_of(spec, self.model))
        return f"{model}.from_api({argument})"

    def _interning(self) -> list[str]:
        """Lines that return one shared instance per distinct complete, clean input (see ``_wire_intern``).

        Only when every member is present: an absent required member reads as a placeholder equal to
        ``""``, so a key holding one could match a present empty string and lose the difference.
        """
        for member in self.members:
            if member.spec.kind not in (_STR, _INT, _BOOL, _ENUM):
                raise TypeError(f"{self.model.__name__}: only models of plain values can be interned")
        self.names["CACHE"] = {}
        self.names["CACHE_LIMIT"] = _INTERN_LIMIT
        key = ", ".join(f"v{index}" for index in range(len(self.members)))
        values = {member.attr: f"v{index}" for index, member in enumerate(self.members)}
        values["extra"] = "EMPTY_EXTRA"
        return [
            f"        if seen == {len(self.members)} and seen == len(data):",
            f"            key = ({key},)",
            "            found = CACHE.get(key)",
            "            if found is None:",
            "                if len(CACHE) >= CACHE_LIMIT:",
            "                    CACHE.clear()",
            *self._construct("found", values, "                "),
            "                CACHE[key] = found",
            "            return found",
        ]

    def _converter(self, index: int, spec: _Spec, value: str) -> list[str]:
        """Lines that set *value* from ``raw``: the converted value, or BAD on a misfit.

        Lists of nested models and of strings (most of a declaration's bulk) are converted inline; the
        rarer kinds call their parser.
        """
        if spec.kind == _STRUCTS:
            read = self._nested_read(index, spec, "item")
            return [
                "if type(raw) is list or type(raw) is tuple:",
                "    for item in raw:",
                "        if type(item) is not dict and not isinstance(item, Mapping):",
                f"            {value} = BAD",
                "            break",
                "    else:",
                "        try:",
                f"            {value} = tuple([{read} for item in raw])",
                "        except NestingTooDeepError as error:",
                "            raise nested_within(error, raw) from None",
                "else:",
                f"    {value} = BAD",
            ]
        if spec.kind == _STRS:
            return [
                "if type(raw) is list or type(raw) is tuple:",
                f"    {value} = tuple(raw)",
                "    for item in raw:",
                "        if type(item) is not str:",
                f"            {value} = BAD",
                "            break",
                "else:",
                f"    {value} = BAD",
            ]
        if spec.kind == _STRUCT_MAP:
            parse: Callable[[Any], Any] = _parse_struct_map(_model_of(spec, self.model))
        elif spec.kind == _ENUMS:
            assert spec.enum_type is not None
            parse = _enum_tuple_parser(enum_table(spec.enum_type))
        else:
            assert spec.parse is not None
            parse = spec.parse
        return [f"{value} = {self._name('P', index, parse)}(raw)"]

    def writer(self) -> str:
        lines = [
            "def to_api(self):",
            "    if type(self) is not OWNER:",
            "        return generic_to_api(self)",
            "    out = {}",
        ]
        for index, member in enumerate(self.members):
            kind = member.spec.kind
            lines.append(f"    value = self.{member.attr}")
            if member.absent is None:
                lines.append("    if value is not None:")
            else:
                absent = self._name("A", index, member.absent)
                lines.append(f"    if value is not None and value is not {absent}:")
            if kind == _ENUM:
                assert member.spec.enum_type is not None
                enum_type = self._name("E", index, member.spec.enum_type)
                dumped = (
                    f"value if type(value) is str else value._value_ if type(value) is {enum_type} "
                    "else enum_wire(value)"
                )
            elif kind == _STRUCT:
                dumped = "value.to_api()"
            elif kind == _STRUCTS:
                dumped = "[item.to_api() for item in value]"
            elif kind == _STRUCT_MAP:
                dumped = "{name: item.to_api() for name, item in value.items()}"
            elif kind == _STRS:
                dumped = "list(value)"
            elif kind == _ENUMS:
                dumped = "[enum_wire(item) for item in value]"
            elif kind == _STR_MAP:
                dumped = "dict(value)"
            elif member.spec.keep_raw:
                parse = self._name("P", index, member.spec.parse)
                dumped = f"raw_or(self.raw_timestamps, {member.key!r}, value, {parse})"
            else:
                dumped = "value"
            lines.append(f"        out[{member.key!r}] = {dumped}")
        lines.append("    extra = self.extra")
        lines.append("    if extra:")
        lines.append("        add_extra(out, extra)")
        lines.append("    return out")
        return "\n".join(lines)


def _compile(model: type) -> tuple[Callable[..., Any], Callable[[Any], Any]]:
    """Generate, compile and cache *model*'s reader and writer; return them.

    The code is what a careful hand would write for this one class: each member read with ``dict.get``,
    checked by exact type and converted inline (nested models through their own ``from_api``), and a
    count of accepted members that tells in one comparison whether anything must go to ``extra``. A
    class that does not define ``from_api``/``to_api`` itself gets the generated ones installed as its
    methods, so later calls go straight to them.
    """
    codegen = _Codegen(model)
    names = codegen.names
    names["generic_from_api"] = _generic_from_api
    names["generic_to_api"] = _generic_to_api
    source = codegen.reader() + "\n\n\n" + codegen.writer() + "\n"
    filename = f"<pipepilot wire {model.__module__}.{model.__qualname__}>"
    exec(compile(source, filename, "exec"), names)  # our own generated source
    # Registered as attrs registers its generated methods, so tracebacks and debuggers show the code.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    reader = names["from_api"]
    writer = names["to_api"]
    reader.__qualname__ = f"{model.__qualname__}.from_api"
    writer.__qualname__ = f"{model.__qualname__}.to_api"
    # Cached in the class's own namespace (not inherited): a subclass gets code for its own fields.
    type.__setattr__(model, "_wire_codec", (reader, writer, source))
    if "from_api" not in model.__dict__:
        reader.__doc__ = TypedWireModel.from_api.__doc__
        type.__setattr__(model, "from_api", classmethod(reader))
    if "to_api" not in model.__dict__:
        writer.__doc__ = TypedWireModel.to_api.__doc__
        type.__setattr__(model, "to_api", writer)
    return reader, writer


def _codec(model: type) -> tuple[Callable[..., Any], Callable[[Any], Any]]:
    codec = model.__dict__.get("_wire_codec")
    if codec is None:
        return _compile(model)
    return codec[0], codec[1]


def _generic_from_api(model: Any, data: Any) -> Any:
    return _codec(model)[0](model, data)


def _generic_to_api(obj: Any) -> Any:
    return _codec(type(obj))[1](obj)


def add_extra(out: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Append *extra* members to *out*, never overriding a modelled member (edits win over stale raws)."""
    try:
        for key, value in extra.items():
            if key not in out:
                out[key] = copy_json(value)
    except NestingTooDeepError as error:
        raise nested_within(error, extra) from None


def require_mapping(data: Any, model: type) -> Mapping[str, Any]:
    """Return *data* if it is a mapping; a top-level ``from_api`` of anything else is a caller's mistake.

    Raises:
        MalformedInputError: *data* is not a mapping (the message names *model* and what it got).
    """
    if type(data) is dict or isinstance(data, Mapping):
        return cast("Mapping[str, Any]", data)
    raise MalformedInputError(
        f"{model.__name__}.from_api() needs the JSON object AWS uses for it (a mapping), "
        f"got {type(data).__name__}"
    )


# ---------------------------------------------------------------------------------------------- models


def extra_field() -> Any:
    """The ``extra`` field every model has: unknown wire members, kept verbatim, values elided in repr."""
    return attrs.field(default=EMPTY_EXTRA, repr=keys_only_repr, hash=False)


class TypedWireModel(Generic[_D]):
    """Base of the models: ``from_api``/``to_api`` generated from the class's field declarations.

    Subclasses are frozen attrs classes whose wire members carry their description in field metadata
    (:func:`string`, :func:`struct`, ...) and that have an ``extra`` field (:func:`extra_field`); ``_D`` is
    the wire TypedDict ``to_api`` returns. A class that must adjust its input or output (unwrap a whole
    response, mark a secret) overrides ``from_api``/``to_api`` and calls these.
    """

    __slots__ = ()
    extra: Mapping[str, Any]

    @classmethod
    def from_api(cls: type[_M], data: Mapping[str, Any]) -> _M:
        """Read this model from its AWS wire dict (as boto3 returned it, or as raw JSON).

        Members pipepilot does not model, and values of an unexpected type, are kept in ``extra``.

        Raises:
            MalformedInputError: *data* is not a mapping.
            NestingTooDeepError: a value nests deeper than any AWS structure (``path`` says where).
        """
        return _codec(cls)[0](cls, data)  # type: ignore[no-any-return]

    def to_api(self) -> _D:
        """The wire dict this object was read from, unknown members included: ``X.from_api(d).to_api() == d``.

        Members added by AWS after this release ride along at run time; the TypedDict describes the ones
        pipepilot models.
        """
        return _codec(type(self))[1](self)  # type: ignore[no-any-return]


class WireModel(TypedWireModel[dict[str, Any]]):
    """A :class:`TypedWireModel` whose ``to_api`` returns a plain ``dict`` (the runtime and build models)."""

    __slots__ = ()


# ---------------------------------------------------------------------------------------------- records
#
# pipepilot's own records (a freeze record) are declared with the same field metadata as the AWS models
# and written by the same module, in the form a saved file wants: every member present (``null`` when
# unset), keys named like the attributes, times in ISO 8601, and a strict reader that refuses a file it
# did not write instead of keeping misfits (a record drives changes to live pipelines).


def record_to_dict(obj: Any) -> dict[str, Any]:
    """A JSON-ready dict of a record declared with wire field metadata (see :func:`record_fields`)."""
    out: dict[str, Any] = {}
    for member in wire_members(type(obj)):
        value = getattr(obj, member.attr)
        kind = member.spec.kind
        if value is None:
            out[member.attr] = None
        elif kind == _ENUM:
            out[member.attr] = value.value
        elif kind == _TIMESTAMP:
            out[member.attr] = value.isoformat()
        elif kind == _STRUCTS:
            out[member.attr] = [record_to_dict(item) for item in value]
        else:
            out[member.attr] = value
    return out


def record_fields(
    model: type,
    data: Mapping[str, Any],
    *,
    what: str,
    where: str,
    skip: frozenset[str] = frozenset(),
    only: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Constructor keyword arguments of record *model* read strictly from *data* (see :func:`record_to_dict`).

    A member without a default must be present (a non-empty string, an enum value, a time); one with a
    default may also be ``null``. Members named in *skip* are left to the caller (lists of records, whose
    checks span items); with *only*, just those members are read.

    Raises:
        ValueError: a member is missing or has a value the record never holds; the message starts with
            *what* and names the member as *where*``.key``.
    """
    kwargs: dict[str, Any] = {}
    for member, field in zip(wire_members(model), _wire_fields(model), strict=True):
        if member.attr in skip or (only is not None and member.attr not in only):
            continue
        key = member.attr
        label = f"{where}.{key}" if where else key
        value = data.get(key)
        required = field.default is attrs.NOTHING
        kind = member.spec.kind
        if value is None and not required:
            kwargs[member.attr] = None
        elif kind == _STR:
            if not isinstance(value, str) or (required and not value):
                wanted = "a non-empty string" if required else "a string or null"
                raise ValueError(f"{what}: {label} must be {wanted}, not {shown(value)}")
            kwargs[member.attr] = value
        elif kind == _ENUM:
            enum_type = member.spec.enum_type
            assert enum_type is not None
            try:
                kwargs[member.attr] = enum_type(value)
            except ValueError:
                allowed = ", ".join(str(item.value) for item in enum_type)
                wanted = f"one of {allowed}" if required else f"null or one of {allowed}"
                raise ValueError(f"{what}: {label} must be {wanted}") from None
        elif kind == _TIMESTAMP:
            if value is None:
                raise ValueError(f"{what}: {label} is missing")
            if not isinstance(value, str):
                raise ValueError(f"{what}: {label} must be an ISO 8601 time or null, not {shown(value)}")
            try:
                kwargs[member.attr] = parse_iso_timestamp(value)
            except (ValueError, OverflowError):
                raise ValueError(f"{what}: {label} is not an ISO 8601 time: {shown(value)}") from None
        else:
            raise TypeError(f"{model.__name__}.{member.attr}: records hold strings, enums and times")
    return kwargs


def _wire_fields(model: type) -> list[Any]:
    return [field for field in attrs.fields(model) if _WIRE in field.metadata]


# ------------------------------------------------------------------------------------------------ views
#
# Read-only views of what AWS pushes (EventBridge events) are declared with the same field metadata, under
# the keys the events use (``execution-id``); they are read leniently, as consumers of events expect: a
# value of another type reads as ``None``, and only the members a view cannot do without are enforced.


def view_fields(
    model: type, data: Mapping[str, Any], *, where: str, refuse: Callable[[str], Exception]
) -> dict[str, Any]:
    """Constructor keyword arguments of view *model* read from *data* by its declared members.

    A member without a default must be a non-empty string; others read as ``None`` unless they are a
    string. Enumerations keep values added later as plain ``str``.

    Raises:
        Exception: ``refuse(message)`` for a required member that is missing or not a non-empty string;
            the message names it as *where* followed by its key.
    """
    kwargs: dict[str, Any] = {}
    for member, field in zip(wire_members(model), _wire_fields(model), strict=True):
        kind = member.spec.kind
        if kind not in (_STR, _ENUM):
            raise TypeError(f"{model.__name__}.{member.attr}: views hold strings and enums")
        value = data.get(member.key)
        if type(value) is not str or not value:
            if field.default is attrs.NOTHING:
                raise refuse(f"{where}{member.key!r} must be a non-empty string, not {value!r}")
            value = value if type(value) is str else None
        elif kind == _ENUM:
            assert member.spec.enum_type is not None
            value = enum_table(member.spec.enum_type).get(value, value)
        kwargs[member.attr] = value
    return kwargs


# ----------------------------------------------------------------------------------------------- repr


def keys_only_repr(value: Mapping[str, Any] | None) -> str:
    """Render a mapping with its values elided: configuration and unknown members may carry secrets."""
    if value is None:
        return "None"
    return "{" + ", ".join(f"{key!r}: ..." for key in value) + "}"


def concealed_repr(value: str | None, *, conceal: bool) -> str:
    """``repr(value)``, or ``'***'`` when *conceal* is set and there is a value (an approval token)."""
    return "'***'" if conceal and value else repr(value)
