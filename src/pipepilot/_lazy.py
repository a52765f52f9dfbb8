"""Module attributes that load on first use (PEP 562), for the packages whose names are costly to load.

``import pipepilot`` must cost next to nothing (a Lambda function pays for every module at cold start),
yet ``from pipepilot import CodePipeline`` should work. A package lists, in one mapping, the module each of
its public names comes from; :func:`lazy_module_attributes` turns the mapping into the package's
``__getattr__`` and ``__dir__``. Type checkers see the same names through a ``TYPE_CHECKING`` import
block, which a test holds equal to the mapping.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["lazy_module_attributes"]


def lazy_module_attributes(
    package: str, namespace: dict[str, Any], exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose ``exports`` map each public name to its module.

    A name is imported from its module the first time it is asked for, then stored in ``namespace`` (the
    package's globals) so later look-ups skip ``__getattr__``. Any other name raises
    :class:`AttributeError`, as on any module.
    """

    def __getattr__(name: str) -> Any:
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
