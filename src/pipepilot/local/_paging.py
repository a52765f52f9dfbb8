"""Next tokens and pages, the one way both engines page their List* operations.

A next token is opaque to the caller, as on AWS: URL-safe base64 of ``[operation, scope, position]``. The
operation and the scope (which pipeline, which filter) are bound into it, so a token handed to another
listing is refused rather than misread; the position is where the next page resumes (a name, a sequence
number or an index, whatever keeps pages stable while the listing grows between calls).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pipepilot.local._errors import ServiceError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["Paging"]

_T = TypeVar("_T")


class Paging:
    """The next tokens of one service, refused with that service's own error code and message.

    CodePipeline answers ``InvalidNextTokenException``; CodeBuild answers ``InvalidInputException``.
    """

    __slots__ = ("_error_code", "_error_message")

    def __init__(self, *, error_code: str, error_message: str) -> None:
        self._error_code = error_code
        self._error_message = error_message

    def invalid(self) -> ServiceError:
        """The error a token this listing never issued answers."""
        return ServiceError(self._error_code, self._error_message)

    @staticmethod
    def token(operation: str, scope: str, position: object) -> str:
        """The next token that resumes ``operation`` over ``scope`` at ``position`` (JSON-serialisable)."""
        raw = json.dumps([operation, scope, position], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode()

    def position(self, token: str | None, operation: str, scope: str, *, kind: type | None = None) -> Any:
        """Where ``token`` resumes ``operation`` over ``scope``; None when no token was given.

        Raises:
            ServiceError: the token was not issued for this operation and scope, or its position is not
                of type ``kind`` (when given).
        """
        if token is None:
            return None
        try:
            decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            decoded = None
        if not isinstance(decoded, list) or len(decoded) != 3 or decoded[:2] != [operation, scope]:
            raise self.invalid()
        position = decoded[2]
        if kind is not None and type(position) is not kind:
            raise self.invalid()
        return position

    def page(
        self,
        ordered: Iterable[_T],
        *,
        limit: int,
        operation: str,
        scope: str,
        position_of: Callable[[_T], object],
    ) -> tuple[list[_T], str | None]:
        """The first ``limit`` items of ``ordered`` and the token of the page after them (None at the end).

        ``ordered`` already starts after the position the request's token named; ``position_of(item)`` is
        what the next token remembers of the page's last item.
        """
        if isinstance(ordered, Sequence):  # a slice is far cheaper than a loop over a long listing
            page = list(ordered[:limit])
            more = len(ordered) > limit
        else:
            page = []
            more = False
            for item in ordered:
                if len(page) == limit:
                    more = True
                    break
                page.append(item)
        return page, (self.token(operation, scope, position_of(page[-1])) if more else None)

    def page_from_end(
        self,
        items: Sequence[_T],
        *,
        token: str | None,
        limit: int,
        operation: str,
        scope: str,
        keep: Callable[[_T], bool] | None = None,
        dropped: int = 0,
    ) -> tuple[list[_T], str | None]:
        """Newest-first page of an append-only list; the token is an absolute index, stable under appends.

        ``dropped`` is how many entries retention removed from the front: the token counts them too, so a
        clean-up between two pages neither repeats nor skips entries (a token into the removed part ends the
        listing there). ``keep`` filters entries without changing what the token counts.

        Raises:
            ServiceError: the token was not issued for this listing.
        """
        start = self.position(token, operation, scope)
        if start is None:
            index = len(items)
        elif type(start) is int and dropped <= start <= dropped + len(items):
            index = start - dropped
        elif type(start) is int and 0 <= start < dropped:
            index = 0  # the rest of the listing was forgotten since the previous page
        else:
            raise self.invalid()
        page: list[_T] = []
        while index > 0 and len(page) < limit:
            index -= 1
            item = items[index]
            if keep is None or keep(item):
                page.append(item)
        return page, (self.token(operation, scope, index + dropped) if index > 0 else None)
