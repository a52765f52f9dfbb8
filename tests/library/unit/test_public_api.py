"""The public import path: everything public comes from ``pipepilot`` itself, listed once, in order."""

from __future__ import annotations

import pipepilot


def test_all_is_sorted_and_unique() -> None:
    """``__all__`` is sorted and has no duplicates, so additions are reviewed in one obvious place."""
    assert list(pipepilot.__all__) == sorted(set(pipepilot.__all__))


def test_every_exported_name_exists() -> None:
    """Each name in ``__all__`` resolves on the package."""
    missing = [name for name in pipepilot.__all__ if not hasattr(pipepilot, name)]
    assert missing == []


def test_no_public_name_leaks_outside_all() -> None:
    """Public attributes of the package are exactly ``__all__`` (plus its submodules)."""
    import __future__

    import types

    public = {
        name
        for name, value in vars(pipepilot).items()
        if not name.startswith("_") and not isinstance(value, (types.ModuleType, __future__._Feature))
    }
    assert public <= set(pipepilot.__all__)


def test_every_public_name_loads_lazily_from_the_module_that_defines_it() -> None:
    """The lazy export map and ``__all__`` name the same things, and each name is defined where mapped."""
    exported = {name for names in pipepilot._EXPORTS.values() for name in names}
    assert exported | {"__version__"} == set(pipepilot.__all__)
    for module, names in pipepilot._EXPORTS.items():
        for name in names:
            assert getattr(pipepilot, name).__module__ == module, name


def test_unknown_names_raise_attribute_error() -> None:
    """A name pipepilot does not export is an AttributeError, as on any module."""
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        pipepilot.Nope  # noqa: B018
