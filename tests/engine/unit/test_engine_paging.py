"""How the offline engines page List* answers: opaque tokens bound to their listing, pages stable under growth."""

from __future__ import annotations

import pytest

from pipepilot.local._errors import ServiceError
from pipepilot.local._paging import Paging

_PAGING = Paging(error_code="InvalidNextTokenException", error_message="The next token is not valid")


def test_a_token_resumes_the_listing_it_came_from() -> None:
    """A token names the position it was issued for, for the same operation and scope only."""
    token = _PAGING.token("ListThings", "p", 42)
    assert _PAGING.position(token, "ListThings", "p") == 42
    assert _PAGING.position(None, "ListThings", "p") is None


@pytest.mark.parametrize(
    ("operation", "scope", "kind"),
    [("ListOther", "p", None), ("ListThings", "q", None), ("ListThings", "p", str)],
    ids=["other-operation", "other-scope", "other-position-type"],
)
def test_a_token_of_another_listing_is_refused_with_the_service_code(
    operation: str, scope: str, kind: type | None
) -> None:
    """A token handed to another operation, scope or position type answers the service's own error."""
    token = _PAGING.token("ListThings", "p", 42)
    with pytest.raises(ServiceError) as caught:
        _PAGING.position(token, operation, scope, kind=kind)
    assert caught.value.code == "InvalidNextTokenException"


def test_a_forged_token_is_refused() -> None:
    """A string the service never issued is refused, not misread."""
    with pytest.raises(ServiceError):
        _PAGING.position("forged!", "ListThings", "p")


@pytest.mark.parametrize("as_iterator", [False, True], ids=["sequence", "iterator"])
def test_pages_end_with_no_token(as_iterator: bool) -> None:
    """A page has at most ``limit`` items, from a sequence or an iterator alike; the last carries no token."""
    items = iter(range(5)) if as_iterator else range(5)
    first, token = _PAGING.page(
        items, limit=3, operation="ListThings", scope="", position_of=lambda item: item
    )
    assert (first, _PAGING.position(token, "ListThings", "")) == ([0, 1, 2], 2)
    rest = iter(range(3, 5)) if as_iterator else range(3, 5)
    last, token = _PAGING.page(rest, limit=3, operation="ListThings", scope="", position_of=str)
    assert (last, token) == ([3, 4], None)


def test_pages_from_the_end_stay_stable_while_the_list_grows() -> None:
    """Newest-first pages neither repeat nor skip entries when new ones are appended between calls."""
    items = list(range(5))
    first, token = _PAGING.page_from_end(items, token=None, limit=2, operation="L", scope="")
    items += [5, 6]
    second, token = _PAGING.page_from_end(items, token=token, limit=2, operation="L", scope="")
    third, token = _PAGING.page_from_end(items, token=token, limit=2, operation="L", scope="")
    assert (first, second, third, token) == ([4, 3], [2, 1], [0], None)
