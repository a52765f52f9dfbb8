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

Enumerations are tolerant: a known string becomes its ``enum.Enum`` member, an unknown one stays a plain
``str`` (AWS adds categories, modes and results over time; rejecting them would break reading).

Everything here sits on the ``from_api``/``to_api`` hot path, so it favours plain loops, identity checks
and exact-type tests over abstractions.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, NoReturn, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "ABSENT_STR",
    "ABSENT_TUPLE",
    "BAD",
    "EMPTY_EXTRA",
    "NOTHING",
    "Member",
    "add_extra",
    "copy_json",
    "enum_table",
    "enum_wire",
    "is_absent",
    "keys_only_repr",
    "members",
    "read_members",
    "struct_tuple_of",
    "write_members",
]

_E = TypeVar("_E", bound=enum.Enum)


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


def is_absent(value: object) -> bool:
    """Tell whether *value* is the placeholder of a required member missing from the input."""
    return value is ABSENT_STR or value is ABSENT_TUPLE


# ----------------------------------------------------------------------------------------------- enums


def enum_table(enum_type: type[_E]) -> dict[str, _E]:
    """Map each wire string of a str-valued enum to its member, for tolerant parsing with ``dict.get``."""
    return {member.value: member for member in enum_type}


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


def _dump_list(value: tuple[Any, ...]) -> list[Any]:
    return list(value)


def _dump_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)


def copy_json(value: Any) -> Any:
    """Copy the containers of a JSON-like value, so stored extras never alias a caller's dicts or lists."""
    if type(value) is dict:
        return {key: copy_json(item) for key, item in value.items()}
    if type(value) is list:
        return [copy_json(item) for item in value]
    return value


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
            return tuple([from_api(item) for item in raw])
        return BAD

    def parse_map(self, raw: Any) -> Any:
        if type(raw) is dict or isinstance(raw, Mapping):
            for key, item in raw.items():
                if type(key) is not str or (type(item) is not dict and not isinstance(item, Mapping)):
                    return BAD
            from_api = self.model.from_api
            return {key: from_api(item) for key, item in raw.items()}
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
    def enum(cls, attr: str, key: str, table: Mapping[str, Any], *, required: bool = False) -> Member:
        """A tolerant enumeration member: known strings become members, unknown ones stay ``str``."""
        return cls(attr, key, _enum_parser(table), enum_wire, ABSENT_STR if required else None)

    @classmethod
    def strings(cls, attr: str, key: str) -> Member:
        """An (optional) list of strings, held as a tuple."""
        return cls(attr, key, _parse_str_tuple, _dump_list, None)

    @classmethod
    def enums(cls, attr: str, key: str, table: Mapping[str, Any]) -> Member:
        """An (optional) list of tolerant enumeration values, held as a tuple."""
        return cls(attr, key, _enum_tuple_parser(table), _dump_enum_tuple, None)

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
    for key, value in extra.items():
        if key not in out:
            out[key] = copy_json(value)


# ----------------------------------------------------------------------------------------------- repr


def keys_only_repr(value: Mapping[str, Any] | None) -> str:
    """Render a mapping with its values elided: configuration and unknown members may carry secrets."""
    if value is None:
        return "None"
    return "{" + ", ".join(f"{key!r}: ..." for key in value) + "}"
