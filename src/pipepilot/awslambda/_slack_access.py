"""Who may answer which approvals from Slack: an allow-list of Slack users and user groups.

Being in the channel is not being allowed to release: whoever can read a channel can press its buttons.
:class:`Approvers` maps Slack user ids (``U...``/``W...``) and user group ids (``S...``) to the approvals
they may answer, as ``pipeline/stage`` patterns (shell-style: ``web-*/Prod``, ``api`` for every stage of
``api``, ``*`` for everything). Anyone not listed is refused, and so is everyone when the list is empty.
"""

from __future__ import annotations

import collections.abc
import fnmatch
import json
import logging
import re
import threading
import time
from typing import TYPE_CHECKING

from pipepilot.errors import ArgumentTypeError, InvalidArgumentError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

__all__ = ["Approvers"]

logger = logging.getLogger(__name__)

_USER = re.compile(r"[UW][A-Z0-9]{2,31}")
_GROUP = re.compile(r"S[A-Z0-9]{2,31}")


class Approvers:
    """An allow-list: Slack user and user group ids, each with the ``pipeline/stage`` patterns it may answer.

    ``rules`` maps an id to one pattern or a list of them. A pattern is ``pipeline`` (every stage of it) or
    ``pipeline/stage``, each part a shell-style pattern matched case-sensitively (``web-*/Prod``, ``*``).
    User group ids need ``group_members``: a callable returning the user ids of a group (for example
    :func:`pipepilot.awslambda.slack.slack_group_members`, which asks Slack's ``usergroups.users.list``); a
    group's members are remembered for ``group_cache_seconds``. When the lookup fails, the group grants
    nothing (logged at WARNING): the list fails closed.

    Raises:
        ArgumentTypeError: ``rules`` is not a mapping of strings to strings or lists of strings.
        InvalidArgumentError: an id is not a Slack user (``U``/``W``) or user group (``S``) id, a pattern is
            empty or has more than one ``/``, or a group is listed without ``group_members``.
    """

    def __init__(
        self,
        rules: Mapping[str, str | Iterable[str]],
        *,
        group_members: Callable[[str], Iterable[str]] | None = None,
        group_cache_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(rules, collections.abc.Mapping):
            raise ArgumentTypeError(
                f"rules must be a mapping of Slack ids to patterns, not {type(rules).__name__}",
                parameter="rules",
            )
        users: dict[str, tuple[str, ...]] = {}
        groups: dict[str, tuple[str, ...]] = {}
        for slack_id, patterns in rules.items():
            checked = _patterns(slack_id, patterns)
            if isinstance(slack_id, str) and _USER.fullmatch(slack_id):
                users[slack_id] = checked
            elif isinstance(slack_id, str) and _GROUP.fullmatch(slack_id):
                groups[slack_id] = checked
            else:
                raise InvalidArgumentError(
                    f"{slack_id!r} is not a Slack user id (U... or W...) or user group id (S...)",
                    parameter="rules",
                )
        if groups and group_members is None:
            raise InvalidArgumentError(
                "user groups are listed, but no group_members lookup was given to find their members",
                parameter="group_members",
            )
        self._users = users
        self._groups = groups
        self._group_members = group_members
        self._group_cache_seconds = group_cache_seconds
        self._clock = clock
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_json(cls, text: str, **options: object) -> Approvers:
        """Approvers from a JSON object (``{"U0123ABCD": ["web/Prod"], "S0456EFGH": "*"}``), as a template
        passes it in an environment variable; ``options`` as for the constructor.

        Raises:
            InvalidArgumentError: ``text`` is not a JSON object, or a rule is malformed.
        """
        try:
            rules = json.loads(text)
        except (TypeError, ValueError):
            raise InvalidArgumentError("the approvers are not a JSON object", parameter="text") from None
        if not isinstance(rules, collections.abc.Mapping):
            raise InvalidArgumentError("the approvers are not a JSON object", parameter="text")
        return cls(rules, **options)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"Approvers({len(self._users)} users, {len(self._groups)} groups)"

    def allows(self, user_id: str, pipeline: str, stage: str) -> bool:
        """Whether Slack user ``user_id`` may answer approvals of ``stage`` in ``pipeline``."""
        if any(_matches(pattern, pipeline, stage) for pattern in self._users.get(user_id, ())):
            return True
        for group, patterns in self._groups.items():
            if any(
                _matches(pattern, pipeline, stage) for pattern in patterns
            ) and user_id in self._members_of(group):
                return True
        return False

    def _members_of(self, group: str) -> frozenset[str]:
        now = self._clock()
        with self._lock:
            cached = self._members.get(group)
        if cached is not None and now - cached[0] < self._group_cache_seconds:
            return cached[1]
        assert self._group_members is not None  # checked in __init__
        try:
            members = frozenset(member for member in self._group_members(group) if isinstance(member, str))
        except Exception as error:  # any failure of the lookup: the group grants nothing
            logger.warning("cannot read the members of Slack user group %s (%s)", group, type(error).__name__)
            return frozenset()
        with self._lock:
            self._members[group] = (now, members)
        return members


def _patterns(slack_id: object, patterns: object) -> tuple[str, ...]:
    listed = [patterns] if isinstance(patterns, str) else patterns
    if not isinstance(listed, (list, tuple)) or not all(isinstance(p, str) for p in listed):
        raise ArgumentTypeError(
            f"the patterns of {slack_id!r} must be a string or a list of strings", parameter="rules"
        )
    for pattern in listed:
        if not pattern or pattern.count("/") > 1 or "" in pattern.split("/"):
            raise InvalidArgumentError(
                f"{pattern!r} (for {slack_id!r}) is not a 'pipeline' or 'pipeline/stage' pattern",
                parameter="rules",
            )
    return tuple(listed)


def _matches(pattern: str, pipeline: str, stage: str) -> bool:
    pipeline_pattern, _, stage_pattern = pattern.partition("/")
    return fnmatch.fnmatchcase(pipeline, pipeline_pattern) and fnmatch.fnmatchcase(
        stage, stage_pattern or "*"
    )
