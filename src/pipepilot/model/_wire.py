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

:class:`WireModel` (and :class:`TypedWireModel`, whose ``to_api`` is typed with a boto3 TypedDict) gives a
model ``from_api``/``to_api`` from its member table; :func:`extra_field` declares its ``extra``.

Everything here sits on the ``from_api``/``to_api`` hot path, so it favours plain loops, identity checks
and exact-type tests over abstractions.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, NoReturn, TypeVar, cast

import attrs

from pipepilot.errors import InvalidStructureError, NestingTooDeepError

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
    "check_nesting",
    "concealed_repr",
    "copy_json",
    "enum_table",
    "enum_wire",
    "extra_field",
    "keys_only_repr",
    "load_json",
    "members",
    "nested_within",
    "parse_iso_timestamp",
    "read_members",
    "require_mapping",
    "struct_tuple_of",
    "timestamp_parser",
    "utc_datetime",
    "write_members",
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


def _enum_parser(table: Mapping[str, Any]) -> Callable[[Any], Any]:
    get = table.get

    def parse(raw: Any) -> Any:
        return get(raw, raw) if type(raw) is str else BAD

    return parse


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


def _dump_enum_tuple(value: tuple[Any, ...]) -> list[str]:
    return [enum_wire(item) for item in value]


# ------------------------------------------------------------------------------------------ primitives


def _parse_str(raw: Any) -> Any:
    return raw if type(raw) is str else BAD


def _parse_int(raw: Any) -> Any:
    # bool is an int subclass; "true" is not a run order, so exact type only.
    return raw if type(raw) is int else BAD


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


def _parse_bool(raw: Any) -> Any:
    return raw if type(raw) is bool else BAD


def _dump_list(value: tuple[Any, ...]) -> list[Any]:
    return list(value)


def _dump_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)


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


# ------------------------------------------------------------------------------------------- structures


class _StructKind:
    """Parse/dump for a nested model class; shared by the single, tuple and map member kinds."""

    __slots__ = ("model",)

    def __init__(self, model: Any) -> None:
        self.model = model

    def parse_one(self, raw: Any) -> Any:
        if type(raw) is dict or isinstance(raw, Mapping):
            return self.model.from_api(raw)
        return BAD

    def parse_tuple(self, raw: Any) -> Any:
        if type(raw) is list or type(raw) is tuple:
            for item in raw:
                if type(item) is not dict and not isinstance(item, Mapping):
                    return BAD
            from_api = self.model.from_api
            try:
                return tuple([from_api(item) for item in raw])
            except NestingTooDeepError as error:
                raise nested_within(error, raw) from None
        return BAD

    def parse_map(self, raw: Any) -> Any:
        if type(raw) is dict or isinstance(raw, Mapping):
            for key, item in raw.items():
                if type(key) is not str or (type(item) is not dict and not isinstance(item, Mapping)):
                    return BAD
            from_api = self.model.from_api
            try:
                return {key: from_api(item) for key, item in raw.items()}
            except NestingTooDeepError as error:
                raise nested_within(error, raw) from None
        return BAD


def _dump_struct(value: Any) -> Any:
    return value.to_api()


def _dump_struct_tuple(value: tuple[Any, ...]) -> list[Any]:
    return [item.to_api() for item in value]


def _dump_struct_map(value: Mapping[str, Any]) -> dict[str, Any]:
    return {key: item.to_api() for key, item in value.items()}


# --------------------------------------------------------------------------------------- member tables


class Member:
    """One wire member of a model: Python attribute, camelCase key, how to parse and dump its value.

    ``absent`` is what the attribute holds when the member is missing: ``None`` for optional members, a
    placeholder (:data:`ABSENT_STR`, :data:`ABSENT_TUPLE`, a model's placeholder instance) for required ones.
    Build members with the class methods, e.g. ``Member.string("role_arn", "roleArn")``.
    """

    __slots__ = ("absent", "attr", "dump", "key", "parse")

    def __init__(
        self,
        attr: str,
        key: str,
        parse: Callable[[Any], Any],
        dump: Callable[[Any], Any] | None,
        absent: Any,
    ) -> None:
        self.attr = attr
        self.key = key
        self.parse = parse
        self.dump = dump
        self.absent = absent

    @classmethod
    def string(cls, attr: str, key: str, *, required: bool = False) -> Member:
        """A string member (named ``string``, not ``str``, so the class body never shadows a builtin)."""
        return cls(attr, key, _parse_str, None, ABSENT_STR if required else None)

    @classmethod
    def integer(cls, attr: str, key: str) -> Member:
        """An (optional) integer member."""
        return cls(attr, key, _parse_int, None, None)

    @classmethod
    def boolean(cls, attr: str, key: str) -> Member:
        """An (optional) boolean member (``1`` or ``"true"`` is not a boolean: it goes to ``extra``)."""
        return cls(attr, key, _parse_bool, None, None)

    @classmethod
    def timestamp(cls, attr: str, key: str, *, from_epoch: bool = False, from_iso: bool = False) -> Member:
        """An (optional) timestamp member, held as a ``datetime``; see :func:`timestamp_parser`."""
        return cls(attr, key, timestamp_parser(from_epoch=from_epoch, from_iso=from_iso), None, None)

    @classmethod
    def enum(cls, attr: str, key: str, enum_type: type[WireEnum], *, required: bool = False) -> Member:
        """A tolerant enumeration member: known strings become members, unknown ones stay ``str``."""
        return cls(
            attr, key, _enum_parser(enum_table(enum_type)), enum_wire, ABSENT_STR if required else None
        )

    @classmethod
    def strings(cls, attr: str, key: str) -> Member:
        """An (optional) list of strings, held as a tuple."""
        return cls(attr, key, _parse_str_tuple, _dump_list, None)

    @classmethod
    def enums(cls, attr: str, key: str, enum_type: type[WireEnum]) -> Member:
        """An (optional) list of tolerant enumeration values, held as a tuple."""
        return cls(attr, key, _enum_tuple_parser(enum_table(enum_type)), _dump_enum_tuple, None)

    @classmethod
    def string_map(cls, attr: str, key: str) -> Member:
        """An (optional) string-to-string map (action and rule configuration)."""
        return cls(attr, key, _parse_str_map, _dump_dict, None)

    @classmethod
    def struct(cls, attr: str, key: str, model: Any, *, placeholder: Any = None) -> Member:
        """A nested model; *placeholder* (for required members) stands in when the input lacked it."""
        return cls(attr, key, _StructKind(model).parse_one, _dump_struct, placeholder)

    @classmethod
    def structs(cls, attr: str, key: str, model: Any, *, required: bool = False) -> Member:
        """A list of nested models, held as a tuple."""
        return cls(
            attr, key, _StructKind(model).parse_tuple, _dump_struct_tuple, ABSENT_TUPLE if required else None
        )

    @classmethod
    def struct_map(cls, attr: str, key: str, model: Any) -> Member:
        """An (optional) map of string keys to nested models (``artifactStores``)."""
        return cls(attr, key, _StructKind(model).parse_map, _dump_struct_map, None)


def struct_tuple_of(model: Any) -> Callable[[Any], Any]:
    """The tolerant parser for a list of nested *model* objects (returns :data:`BAD` on any misfit)."""
    return _StructKind(model).parse_tuple


def members(*entries: Member) -> tuple[tuple[Member, ...], frozenset[str]]:
    """Bundle a model's member table with the set of its wire keys (used to find unknown members fast)."""
    return entries, frozenset(member.key for member in entries)


def read_members(data: Mapping[str, Any], table: tuple[Member, ...], known: frozenset[str]) -> dict[str, Any]:
    """Read *data* by a member *table* into constructor keyword arguments, ``extra`` included.

    Missing required members get their placeholder; values of an unexpected type, and keys the table does
    not name (*known* is the set of its keys), are kept verbatim (containers copied) in ``extra``, in their
    original order.
    """
    try:
        return _read_members(data, table, known)
    except NestingTooDeepError as error:
        raise nested_within(error, data) from None


def _read_members(
    data: Mapping[str, Any], table: tuple[Member, ...], known: frozenset[str]
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    accepted = 0
    rejected: list[str] = []
    for member in table:
        raw = data.get(member.key, NOTHING)
        if raw is NOTHING:
            if member.absent is not None:
                kwargs[member.attr] = member.absent
            continue
        value = member.parse(raw)
        if value is BAD:
            rejected.append(member.key)
            if member.absent is not None:
                kwargs[member.attr] = member.absent
            continue
        kwargs[member.attr] = value
        accepted += 1
    if accepted != len(data):
        kwargs["extra"] = {
            key: copy_json(value) for key, value in data.items() if key not in known or key in rejected
        }
    return kwargs


def write_members(obj: Any, members: tuple[Member, ...], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Write *obj* back to its wire dict: modelled members first, then *extra* (modelled values win)."""
    out: dict[str, Any] = {}
    for member in members:
        value = getattr(obj, member.attr)
        if value is member.absent or value is None:
            continue
        dump = member.dump
        out[member.key] = value if dump is None else dump(value)
    if extra:
        add_extra(out, extra)
    return out


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
        InvalidStructureError: *data* is not a mapping (the message names *model* and what it got).
    """
    if type(data) is dict or isinstance(data, Mapping):
        return cast("Mapping[str, Any]", data)
    raise InvalidStructureError(
        f"{model.__name__}.from_api() needs the JSON object AWS uses for it (a mapping), "
        f"got {type(data).__name__}"
    )


# ---------------------------------------------------------------------------------------------- models


def extra_field() -> Any:
    """The ``extra`` field every model has: unknown wire members, kept verbatim, values elided in repr."""
    return attrs.field(default=EMPTY_EXTRA, repr=keys_only_repr, hash=False)


class TypedWireModel(Generic[_D]):
    """Base of the models: ``from_api``/``to_api`` driven by the class's member table.

    Subclasses are frozen attrs classes with an ``extra`` field (:func:`extra_field`); ``_D`` is the wire
    TypedDict ``to_api`` returns. Each class's member table (``_members``, built with :func:`members`) is
    set right after the class, because nested members name classes defined later. A class with a faster
    reader or writer for its common case overrides ``from_api``/``to_api`` and falls back on these.
    """

    __slots__ = ()
    _members: ClassVar[tuple[tuple[Member, ...], frozenset[str]]]
    extra: Mapping[str, Any]

    @classmethod
    def from_api(cls: type[_M], data: Mapping[str, Any]) -> _M:
        """Read this model from its AWS wire dict (as boto3 returned it, or as raw JSON).

        Members pipepilot does not model, and values of an unexpected type, are kept in ``extra``.

        Raises:
            InvalidStructureError: *data* is not a mapping.
        """
        if type(data) is not dict:
            data = require_mapping(data, cls)
        return cls(**read_members(data, *cls._members))

    def to_api(self) -> _D:
        """The wire dict this object was read from, unknown members included: ``X.from_api(d).to_api() == d``.

        Members added by AWS after this release ride along at run time; the TypedDict describes the ones
        pipepilot models.
        """
        # Not cast(): that is a function call per object on the to_api hot path.
        return write_members(self, self._members[0], self.extra)  # type: ignore[return-value]


class WireModel(TypedWireModel[dict[str, Any]]):
    """A :class:`TypedWireModel` whose ``to_api`` returns a plain ``dict`` (the runtime and build models)."""

    __slots__ = ()


# ----------------------------------------------------------------------------------------------- repr


def keys_only_repr(value: Mapping[str, Any] | None) -> str:
    """Render a mapping with its values elided: configuration and unknown members may carry secrets."""
    if value is None:
        return "None"
    return "{" + ", ".join(f"{key!r}: ..." for key in value) + "}"


def concealed_repr(value: str | None, *, conceal: bool) -> str:
    """``repr(value)``, or ``'***'`` when *conceal* is set and there is a value (an approval token)."""
    return "'***'" if conceal and value else repr(value)
