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
