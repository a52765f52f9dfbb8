"""Change freezes: hold releases at one stage across many pipelines, and let them go again exactly.

:func:`freeze` disables the inbound transition of one stage (say ``Prod``) in every selected pipeline, so
executions wait in front of it; :func:`thaw` re-enables what the freeze disabled. In between, the
:class:`FreezeRecord` says exactly what the freeze changed, and it serialises to JSON, so it can live in a
file, in S3 or in SSM between the two (often a holiday apart).

What a freeze promises:

* **It changes only what it records.** A transition that was already disabled (someone else's freeze, an
  incident) is left as it is and noted (``ALREADY_DISABLED``); thaw never touches it.
* **Thaw respects later changes.** A transition re-disabled by someone else since the freeze (another
  reason, author or time) is reported (``CHANGED``) and left disabled; one already enabled again is noted
  (``ALREADY_ENABLED``).
* **The record tells the truth when answers are lost.** A disable or enable whose answer was an error
  after AWS applied it (a lost response, a 5xx after the fact) is read back, never resent blindly: a
  disable is the freeze's own when the transition is disabled with the freeze's reason, changed no earlier
  than the request was sent (less five minutes of clock difference); an enable is the thaw's own when the
  transition, which the thaw had just read as disabled by the freeze, is enabled (``thaw_note`` says the
  answer was lost). When even the reading fails, the entry is ``FAILED``, and the next thaw still finds
  the change: it reads every entry the freeze did not record as done (``FAILED``, ``PENDING``) and
  re-enables a transition disabled with the freeze's reason after the record was started; and an enable
  sent without an answer (``thaw_sent_at``) is recognised as the thaw's when the transition was enabled at
  or after that time.
* **An empty selection is not a success.** A pattern or tags matching no pipeline give a record with no
  entries whose :attr:`FreezeRecord.complete` is false (:attr:`FreezeRecord.nothing_selected` says why).
* **Nothing is lost on failure.** Each pipeline has its own outcome; a failure (a missing stage, access
  denied, throttling beyond the retry policy) is recorded with its error and the others go on. Running
  :func:`freeze` again with ``resume=record`` retries the failed ones and skips those done; :func:`thaw`
  is the same with the record it returned.
* **It survives a crash.** Pass ``checkpoint=``: it receives the updated record before any change and
  after each pipeline (save it). If the process dies midway, call :func:`freeze` again with
  ``resume=<last saved record>``: a transition disabled by the lost run (same reason, disabled after the
  record was started) is recognised as the freeze's own, so the thaw re-enables it too.
* **It is polite.** Work runs on ``max_workers`` threads, paced by the facade's adaptive limiter (which
  slows down when AWS throttles, shared with the facade's other fleet operations) and, with ``rate=``,
  never more than ``rate`` requests a second (retries included; see :mod:`pipepilot.fleet`).

Freezing costs three calls per pipeline (read, disable, read back the new state to record its author and
time); thawing two (read, enable), plus one read per entry the freeze did not finish. Between the first read and the disable, a change by someone else could
be overwritten: AWS offers no conditional disable.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from pipepilot._calls import Caller, may_have_acted
from pipepilot._checks import check_callable, shown, type_name
from pipepilot._handles import check_request, pipeline_state
from pipepilot._time import new_uuid
from pipepilot.errors import ArgumentTypeError, NotFoundError, PipepilotError
from pipepilot.fleet import (
    DEFAULT_MAX_WORKERS,
    DEFAULT_RATE,
    Selection,
    fleet_limiter,
    limited_caller,
    run_concurrently,
    select_pipelines,
)
from pipepilot.model import _wire as wire
from pipepilot.model._wire import check_nesting, load_json, record_fields, record_to_dict, utc_datetime
from pipepilot.model.runtime import StageTransitionType
from pipepilot.transitions import Transition, changed_since, now_utc

if TYPE_CHECKING:
    from pipepilot.model.runtime import TransitionState
    from pipepilot.pipelines import CodePipeline

__all__ = [
    "FreezeOutcome",
    "FreezeRecord",
    "PipelineFreeze",
    "ThawOutcome",
    "freeze",
    "thaw",
]

logger = logging.getLogger(__name__)

#: The ``format`` a record's JSON carries; :meth:`FreezeRecord.from_json` refuses others.
FORMAT = "pipepilot.freeze/1"

# Two readings of lastChangedAt are "the same change" within this tolerance (JSON keeps microseconds).
_SAME_TIME = timedelta(milliseconds=1)

Checkpoint = Callable[["FreezeRecord"], object]
"""Receives the updated record before any change and after each pipeline; save it to resume later."""


class FreezeOutcome(str, enum.Enum):
    """What the freeze did to one pipeline."""

    PENDING = "pending"
    """Selected, not handled yet (a run that stopped midway)."""
    DISABLED = "disabled"
    """The freeze disabled the transition: thaw re-enables it."""
    ALREADY_DISABLED = "already-disabled"
    """It was disabled before the freeze: noted (``reason``/``changed_by``/``changed_at`` are the other
    party's), left alone, and never enabled by thaw."""
    FAILED = "failed"
    """The freeze could not be applied (``error``); resume to try again."""


class ThawOutcome(str, enum.Enum):
    """What the thaw did to one pipeline the freeze had disabled."""

    ENABLED = "enabled"
    """The thaw re-enabled the transition."""
    ALREADY_ENABLED = "already-enabled"
    """Someone enabled it since the freeze; nothing to do."""
    CHANGED = "changed"
    """Someone disabled it again since (another reason, author or time): left disabled; see ``thaw_note``."""
    FAILED = "failed"
    """The thaw could not be applied (``thaw_error``); thaw the returned record again to retry."""


def _isoformat(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# botocore hands over times in the machine's local zone: a record written in Paris and read in Tokyo should
# show the same times, so the record keeps them in UTC.
def _optional_utc(value: datetime | None) -> datetime | None:
    return None if value is None else utc_datetime(value)


@attrs.frozen(kw_only=True)
class PipelineFreeze:
    """The freeze (and thaw) outcome for one pipeline.

    For ``DISABLED`` the transition fields describe the freeze's own change; for ``ALREADY_DISABLED`` the
    change found in place. Times are aware UTC datetimes. ``error_code``/``error`` explain ``FAILED`` (``error_code`` is AWS's error code,
    or the pipepilot error's class name when pipepilot itself raised it, e.g. ``NoSuchStageError``); ``thaw``, ``thaw_note`` and
    ``thaw_error`` say what the thaw did (``None``: not thawed yet, or nothing for the thaw to do);
    ``thaw_sent_at`` is when a failed thaw sent an enable whose answer it never got (it may have been
    applied: the next thaw recognises it).
    """

    pipeline: str = attrs.field(metadata=wire.string())
    outcome: FreezeOutcome = attrs.field(metadata=wire.enum_of(FreezeOutcome))
    reason: str | None = attrs.field(default=None, metadata=wire.string())
    changed_by: str | None = attrs.field(default=None, metadata=wire.string())
    changed_at: datetime | None = attrs.field(
        default=None, converter=_optional_utc, metadata=wire.timestamp()
    )
    error_code: str | None = attrs.field(default=None, metadata=wire.string())
    error: str | None = attrs.field(default=None, metadata=wire.string())
    thaw: ThawOutcome | None = attrs.field(default=None, metadata=wire.enum_of(ThawOutcome))
    thaw_note: str | None = attrs.field(default=None, metadata=wire.string())
    thaw_error: str | None = attrs.field(default=None, metadata=wire.string())
    thaw_sent_at: datetime | None = attrs.field(
        default=None, converter=_optional_utc, metadata=wire.timestamp()
    )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (every member present, ``null`` when unset; times in ISO 8601)."""
        return record_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineFreeze:
        """Read what :meth:`to_dict` wrote.

        Raises:
            ValueError: the data is not a pipeline entry of a freeze record.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"freeze record: a pipeline entry must be an object, not {shown(data)}")
        # The entry's name first: the messages about its other members name the entry by it.
        name = record_fields(
            cls, data, what="freeze record", where="pipelines[]", only=frozenset({"pipeline"})
        )
        pipeline = name["pipeline"]
        return cls(**record_fields(cls, data, what="freeze record", where=f"pipelines[{pipeline!r}]"))


@attrs.frozen(kw_only=True)
class FreezeRecord:
    """What one freeze did, pipeline by pipeline; the input of :func:`thaw` and of a resumed freeze.

    ``pipelines`` keeps the selection order; ``started_at`` is an aware UTC datetime. Serialise with
    :meth:`to_json`, read back with :meth:`from_json`.
    """

    id: str = attrs.field(metadata=wire.string())
    stage: str = attrs.field(metadata=wire.string())
    reason: str = attrs.field(metadata=wire.string())
    started_at: datetime = attrs.field(converter=utc_datetime, metadata=wire.timestamp())
    pipelines: tuple[PipelineFreeze, ...] = attrs.field(default=(), metadata=wire.structs(PipelineFreeze))

    # -- views ----------------------------------------------------------------------------------------

    def entry(self, pipeline: str) -> PipelineFreeze:
        """The entry of ``pipeline``.

        Raises:
            KeyError: the freeze did not select that pipeline.
        """
        for entry in self.pipelines:
            if entry.pipeline == pipeline:
                return entry
        raise KeyError(pipeline)

    def _with(self, outcome: FreezeOutcome) -> tuple[str, ...]:
        return tuple(e.pipeline for e in self.pipelines if e.outcome is outcome)

    @property
    def disabled(self) -> tuple[str, ...]:
        """Pipelines whose transition this freeze disabled (what thaw re-enables)."""
        return self._with(FreezeOutcome.DISABLED)

    @property
    def already_disabled(self) -> tuple[str, ...]:
        """Pipelines whose transition was disabled before the freeze (left alone)."""
        return self._with(FreezeOutcome.ALREADY_DISABLED)

    @property
    def failed(self) -> tuple[str, ...]:
        """Pipelines the freeze could not handle (see each entry's ``error``)."""
        return self._with(FreezeOutcome.FAILED)

    @property
    def pending(self) -> tuple[str, ...]:
        """Pipelines selected but not handled yet (the run stopped midway)."""
        return self._with(FreezeOutcome.PENDING)

    @property
    def nothing_selected(self) -> bool:
        """The selection matched no pipeline: the freeze froze nothing (and is not :attr:`complete`)."""
        return not self.pipelines

    @property
    def complete(self) -> bool:
        """Every selected pipeline is frozen or was already disabled (nothing failed or pending), and at
        least one pipeline was selected."""
        return bool(self.pipelines) and not self.failed and not self.pending

    @property
    def thawed(self) -> bool:
        """Thaw has handled every transition the freeze disabled (none left to do), and nothing it tried
        failed (including checking the entries the freeze did not finish)."""
        return all(
            e.thaw is not ThawOutcome.FAILED
            and (e.thaw is not None or e.outcome is not FreezeOutcome.DISABLED)
            for e in self.pipelines
        )

    def thaw_outcomes(self, outcome: ThawOutcome) -> tuple[str, ...]:
        """Pipelines whose thaw came to ``outcome``."""
        return tuple(e.pipeline for e in self.pipelines if e.thaw is outcome)

    # -- serialisation ----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (see :meth:`to_json`)."""
        return {"format": FORMAT, **record_to_dict(self)}

    def to_json(self, *, indent: int | None = 2) -> str:
        """The record as JSON text (times in ISO 8601 with their UTC offset)."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FreezeRecord:
        """Read what :meth:`to_dict` wrote.

        Raises:
            ValueError: the data is not a freeze record (the message says what is wrong).
            NestingTooDeepError: it nests deeper than any freeze record (also a ``ValueError``).
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a freeze record is a JSON object, not {type(data).__name__}")
        check_nesting(dict(data), what="freeze record")
        if data.get("format") != FORMAT:
            raise ValueError(
                f"not a freeze record: format is {shown(data.get('format'))}, expected {FORMAT!r}"
            )
        entries = data.get("pipelines")
        if not isinstance(entries, list):
            raise ValueError("freeze record: pipelines must be a list")
        kwargs = record_fields(cls, data, what="freeze record", where="", skip=frozenset({"pipelines"}))
        parsed = tuple(PipelineFreeze.from_dict(entry) for entry in entries)
        names = [entry.pipeline for entry in parsed]
        if len(set(names)) != len(names):
            raise ValueError("freeze record: a pipeline is listed twice")
        return cls(**kwargs, pipelines=parsed)

    @classmethod
    def from_json(cls, text: str | bytes) -> FreezeRecord:
        """Read what :meth:`to_json` wrote.

        Raises:
            ValueError: the text is not JSON, or not a freeze record.
            NestingTooDeepError: the JSON nests deeper than any freeze record (also a ``ValueError``).
            ArgumentTypeError: ``text`` is not ``str`` or ``bytes``.
        """
        if not isinstance(text, (str, bytes, bytearray)):
            raise ArgumentTypeError(
                f"text must be the record's JSON (str or bytes), not {type_name(text)}", parameter="text"
            )
        try:
            data = load_json(text, what="freeze record")
        except json.JSONDecodeError as error:
            raise ValueError(f"a freeze record must be JSON: {error}") from None
        return cls.from_dict(data)

    def _replace(self, entry: PipelineFreeze) -> FreezeRecord:
        entries = tuple(entry if e.pipeline == entry.pipeline else e for e in self.pipelines)
        return attrs.evolve(self, pipelines=entries)


# ----------------------------------------------------------------------------------------------- freeze


def _inbound_state(caller: Caller[Any], pipeline: str, stage: str) -> TransitionState:
    """The inbound transition state of ``stage`` (one GetPipelineState); raises StageNotFoundError."""
    state = pipeline_state(caller, pipeline)
    transition = Transition(caller=caller, pipeline=pipeline, stage=stage, kind=StageTransitionType.INBOUND)
    found = transition.state_in(state)
    assert found is not None  # inbound transitions always have a state
    return found


def _failure(error: Exception, **fields: Any) -> dict[str, Any]:
    return {"error_code": getattr(error, "code", None) or type(error).__name__, "error": str(error), **fields}


def _check_record(value: object, parameter: str) -> None:
    if isinstance(value, FreezeRecord):
        return
    hint = ""
    if isinstance(value, (str, bytes)):
        hint = f"read saved JSON first: {parameter}=FreezeRecord.from_json(text)"
    elif isinstance(value, Mapping):
        hint = f"read a saved dict first: {parameter}=FreezeRecord.from_dict(data)"
    raise ArgumentTypeError(
        f"{parameter} must be a FreezeRecord, not {type_name(value)}" + (f"; {hint}" if hint else ""),
        parameter=parameter,
    )


def _caller_of(cp: CodePipeline | Caller[Any]) -> Caller[Any]:
    # The facade keeps its seam as ``_calls``; a bare Caller is accepted too (that is what the facade passes).
    return cp if isinstance(cp, Caller) else cp._calls


def freeze(
    cp: CodePipeline | Caller[Any],
    pipelines: Selection,
    *,
    stage: str,
    reason: str,
    resume: FreezeRecord | None = None,
    checkpoint: Checkpoint | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
    rate: float | None = DEFAULT_RATE,
) -> FreezeRecord:
    """Disable the inbound transition of ``stage`` in every selected pipeline; return what was done.

    ``cp`` is the :class:`~pipepilot.CodePipeline` facade (``cp.freeze(...)`` is the same call).
    ``pipelines`` is a selection (names, an fnmatch pattern or tags: see :mod:`pipepilot.fleet`).
    ``reason`` is checked before anything happens (1 to 300 letters, digits, spaces and ``! @ ( ) . * ? -``).
    Failures are recorded per pipeline, not raised:
    check :attr:`FreezeRecord.complete` / :attr:`FreezeRecord.failed`. See the module docstring for
    ``resume`` and ``checkpoint``.

    Raises:
        RequestValidationError: ``reason`` or ``stage`` breaks the API's rules (nothing was changed).
        ValueError: ``resume`` is the record of a freeze of another stage or reason, or ``max_workers`` or
            ``rate`` is out of range (nothing was changed).
        PipepilotError: the selection could not be resolved (listing pipelines or their tags failed);
            nothing was changed.
        ArgumentTypeError: ``resume`` is not a :class:`FreezeRecord`, or ``checkpoint`` is not callable.
    """
    if resume is not None:
        _check_record(resume, "resume")
    check_callable(checkpoint, "checkpoint")
    check_request(
        "DisableStageTransition",
        {"pipelineName": "pipeline", "stageName": stage, "transitionType": "Inbound", "reason": reason},
        doing=f"freeze stage {stage!r}",
    )
    if resume is not None and (resume.stage != stage or resume.reason != reason):
        raise ValueError(
            f"cannot resume the freeze of stage {resume.stage!r} ({resume.reason!r}) as a freeze of stage "
            f"{stage!r} ({reason!r})"
        )
    caller = _caller_of(cp)
    limited = limited_caller(
        caller, fleet_limiter(max_workers=max_workers, rate=rate, time_source=caller.time)
    )
    names = select_pipelines(limited, pipelines, max_workers=max_workers)
    if resume is None:
        record = FreezeRecord(
            id=new_uuid(limited.time), stage=stage, reason=reason, started_at=now_utc(limited.time)
        )
    else:
        record = resume
    known = {entry.pipeline for entry in record.pipelines}
    added = tuple(
        PipelineFreeze(pipeline=name, outcome=FreezeOutcome.PENDING) for name in names if name not in known
    )
    record = attrs.evolve(record, pipelines=record.pipelines + added)
    if checkpoint is not None:
        checkpoint(record)  # saved before any change: a crash from here on can be resumed
    selected = set(names)
    todo = [
        entry.pipeline
        for entry in record.pipelines
        if entry.pipeline in selected and entry.outcome in (FreezeOutcome.PENDING, FreezeOutcome.FAILED)
    ]
    if not names:
        logger.warning(
            "freeze of stage %s: the selection %r matches no pipeline; nothing frozen", stage, pipelines
        )
    logger.info(
        "freezing stage %s in %d pipeline(s) (%d already handled)", stage, len(todo), len(names) - len(todo)
    )
    resumed = resume is not None

    def freeze_one(pipeline: str) -> PipelineFreeze:
        return _freeze_one(limited, record, pipeline, resumed=resumed)

    for outcome in run_concurrently(freeze_one, todo, max_workers=max_workers, time_source=caller.time):
        if outcome.error is not None:
            logger.warning("could not freeze pipeline %s: %s", outcome.item, outcome.error)
            entry = PipelineFreeze(
                pipeline=outcome.item, outcome=FreezeOutcome.FAILED, **_failure(outcome.error)
            )
        else:
            assert outcome.value is not None
            entry = outcome.value
        record = record._replace(entry)
        if checkpoint is not None:
            checkpoint(record)
    logger.info(
        "freeze of stage %s: %d disabled, %d already disabled, %d failed",
        stage,
        len(record.disabled),
        len(record.already_disabled),
        len(record.failed),
    )
    return record


def _is_the_freezes(record: FreezeRecord, found: TransitionState) -> bool:
    """Whether ``found`` is a disable made by this freeze's own (possibly lost) run: disabled with its
    reason, changed no earlier than the record was started (less the clock slack between AWS and us)."""
    return (
        found.enabled is False
        and found.disabled_reason == record.reason
        and changed_since(found, record.started_at)
    )


def _freeze_one(caller: Caller[Any], record: FreezeRecord, pipeline: str, *, resumed: bool) -> PipelineFreeze:
    found = _inbound_state(caller, pipeline, record.stage)
    if found.enabled is False:
        ours = resumed and found.last_changed_at is not None and _is_the_freezes(record, found)
        outcome = FreezeOutcome.DISABLED if ours else FreezeOutcome.ALREADY_DISABLED
        if ours:
            logger.info("pipeline %s: transition disabled by an earlier run of this freeze", pipeline)
        else:
            logger.info(
                "pipeline %s: stage %s already disabled (%s); left alone",
                pipeline,
                record.stage,
                found.disabled_reason,
            )
        return PipelineFreeze(
            pipeline=pipeline,
            outcome=outcome,
            reason=found.disabled_reason,
            changed_by=found.last_changed_by,
            changed_at=found.last_changed_at,
        )
    transition = Transition(
        caller=caller, pipeline=pipeline, stage=record.stage, kind=StageTransitionType.INBOUND
    )
    # An answer lost after AWS applied the disable is read back there (disabled with our reason, changed
    # since we sent it), and that reading is the record's; the disable is never resent blindly.
    read_back = transition._switch_off(record.reason)
    if read_back is not None:
        logger.info("pipeline %s: the disable's answer was lost; read back: applied", pipeline)
        after = read_back
    else:
        try:
            after = _inbound_state(caller, pipeline, record.stage)
        except PipepilotError as error:  # the change is made: record it, even without its time
            logger.warning("pipeline %s: disabled, but could not read back its state (%s)", pipeline, error)
            return PipelineFreeze(pipeline=pipeline, outcome=FreezeOutcome.DISABLED, reason=record.reason)
    return PipelineFreeze(
        pipeline=pipeline,
        outcome=FreezeOutcome.DISABLED,
        reason=after.disabled_reason if after.enabled is False else record.reason,
        changed_by=after.last_changed_by,
        changed_at=after.last_changed_at,
    )


# ------------------------------------------------------------------------------------------------- thaw


def _to_thaw(entry: PipelineFreeze) -> bool:
    """Whether :func:`thaw` has something to do for ``entry``.

    Disabled by the freeze and not thawed (or the thaw failed); or not finished by the freeze (``FAILED``,
    ``PENDING``), whose disable may have been applied all the same, and which thaw has not checked yet.
    """
    if entry.thaw not in (None, ThawOutcome.FAILED):
        return False
    if entry.outcome is FreezeOutcome.DISABLED:
        return True
    return entry.outcome in (FreezeOutcome.FAILED, FreezeOutcome.PENDING) and entry.thaw_note is None


def thaw(
    cp: CodePipeline | Caller[Any],
    record: FreezeRecord,
    *,
    checkpoint: Checkpoint | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
    rate: float | None = DEFAULT_RATE,
) -> FreezeRecord:
    """Re-enable exactly the transitions ``record``'s freeze disabled; return the record with thaw outcomes.

    Transitions disabled before the freeze are not touched. One changed since the freeze (disabled again
    with another reason, by someone else, or at another time) is left disabled and reported as
    ``CHANGED``. Entries the freeze did not finish (``FAILED``, ``PENDING``) are read: a transition found
    disabled with the freeze's reason since the record was started is the freeze's own (its answer was
    lost, or the run stopped before recording it), so it becomes ``DISABLED`` and is re-enabled; otherwise
    the entry gets a ``thaw_note`` and is left alone. Entries thawed already are skipped, so thawing the
    returned record again only retries failures. ``cp`` is the :class:`~pipepilot.CodePipeline` facade
    (``cp.thaw(record)`` is the same call).

    Raises:
        ValueError: ``max_workers`` or ``rate`` is out of range.
        ArgumentTypeError: ``record`` is not a :class:`FreezeRecord` (read a saved one with
            :meth:`FreezeRecord.from_json`), or ``checkpoint`` is not callable; nothing was changed.
    """
    _check_record(record, "record")
    check_callable(checkpoint, "checkpoint")
    caller = _caller_of(cp)
    limited = limited_caller(
        caller, fleet_limiter(max_workers=max_workers, rate=rate, time_source=caller.time)
    )
    todo = [entry for entry in record.pipelines if _to_thaw(entry)]
    logger.info("thawing stage %s in %d pipeline(s)", record.stage, len(todo))

    def thaw_one(entry: PipelineFreeze) -> PipelineFreeze:
        return _thaw_one(limited, record, entry)

    for outcome in run_concurrently(thaw_one, todo, max_workers=max_workers, time_source=caller.time):
        if outcome.error is not None:
            logger.warning("could not thaw pipeline %s: %s", outcome.item.pipeline, outcome.error)
            failure = _failure(outcome.error)
            entry = attrs.evolve(
                outcome.item,
                thaw=ThawOutcome.FAILED,
                thaw_error=f"{failure['error_code']}: {failure['error']}",
            )
        else:
            assert outcome.value is not None
            entry = outcome.value
        record = record._replace(entry)
        if checkpoint is not None:
            checkpoint(record)
    logger.info(
        "thaw of stage %s: %d enabled, %d already enabled, %d changed since (left alone), %d failed",
        record.stage,
        len(record.thaw_outcomes(ThawOutcome.ENABLED)),
        len(record.thaw_outcomes(ThawOutcome.ALREADY_ENABLED)),
        len(record.thaw_outcomes(ThawOutcome.CHANGED)),
        len(record.thaw_outcomes(ThawOutcome.FAILED)),
    )
    return record


def _same_change(entry: PipelineFreeze, found: TransitionState) -> bool:
    if found.disabled_reason != entry.reason:
        return False
    if entry.changed_by is not None and found.last_changed_by != entry.changed_by:
        return False
    if entry.changed_at is None:
        return True  # the freeze could not read its own change back; the reason has to do
    return found.last_changed_at is not None and abs(found.last_changed_at - entry.changed_at) <= _SAME_TIME


class _EnableUnconfirmed(PipepilotError):
    """The thaw's enable failed in a way that may have been applied, and reading back could not tell."""

    def __init__(self, error: PipepilotError, sent_at: datetime) -> None:
        super().__init__(str(error), code=error.code or type(error).__name__)
        self.sent_at = sent_at


def _claim(caller: Caller[Any], record: FreezeRecord, entry: PipelineFreeze) -> PipelineFreeze:
    """An entry the freeze did not finish, as the thaw finds it: ``DISABLED`` when its transition carries
    the freeze's own disable, else the entry with a ``thaw_note`` saying there is nothing to thaw."""
    try:
        found = _inbound_state(caller, entry.pipeline, record.stage)
    except NotFoundError as error:  # no such pipeline or stage: the freeze cannot have disabled it
        return attrs.evolve(entry, thaw_note=f"nothing to thaw: {error}")
    if not _is_the_freezes(record, found):
        return attrs.evolve(entry, thaw_note="nothing to thaw: the freeze's disable is not in place")
    logger.info(
        "pipeline %s: found disabled by this freeze although it recorded %s; thawing it",
        entry.pipeline,
        entry.outcome.value,
    )
    return PipelineFreeze(
        pipeline=entry.pipeline,
        outcome=FreezeOutcome.DISABLED,
        reason=found.disabled_reason,
        changed_by=found.last_changed_by,
        changed_at=found.last_changed_at,
    )


def _thaw_one(caller: Caller[Any], record: FreezeRecord, entry: PipelineFreeze) -> PipelineFreeze:
    if entry.outcome is not FreezeOutcome.DISABLED:
        entry = _claim(caller, record, entry)
        if entry.outcome is not FreezeOutcome.DISABLED:
            return entry
    try:
        return _enable_the_freezes(caller, record, entry)
    except _EnableUnconfirmed as unconfirmed:
        return attrs.evolve(
            entry,
            thaw=ThawOutcome.FAILED,
            thaw_error=f"{unconfirmed.code}: {unconfirmed} (the enable may have been applied)",
            thaw_sent_at=unconfirmed.sent_at,
        )


def _enable_the_freezes(caller: Caller[Any], record: FreezeRecord, entry: PipelineFreeze) -> PipelineFreeze:
    found = _inbound_state(caller, entry.pipeline, record.stage)
    if found.enabled is not False:
        sent_at = entry.thaw_sent_at
        if sent_at is not None and changed_since(found, sent_at):
            # An earlier thaw sent an enable and never learnt its fate; the transition was enabled since.
            logger.info("pipeline %s: the earlier thaw's unanswered enable took effect", entry.pipeline)
            return attrs.evolve(
                entry,
                thaw=ThawOutcome.ENABLED,
                thaw_note=_lost_enable_note(found),
                thaw_error=None,
                thaw_sent_at=None,
            )
        logger.info("pipeline %s: stage %s was enabled again since the freeze", entry.pipeline, record.stage)
        return attrs.evolve(
            entry, thaw=ThawOutcome.ALREADY_ENABLED, thaw_note=None, thaw_error=None, thaw_sent_at=None
        )
    if not _same_change(entry, found):
        note = (
            f"disabled again since the freeze by {found.last_changed_by or 'unknown'} at "
            f"{_isoformat(found.last_changed_at) or 'unknown time'}: {found.disabled_reason!r}"
        )
        logger.warning("pipeline %s: stage %s %s; left disabled", entry.pipeline, record.stage, note)
        return attrs.evolve(
            entry, thaw=ThawOutcome.CHANGED, thaw_note=note, thaw_error=None, thaw_sent_at=None
        )
    transition = Transition(
        caller=caller, pipeline=entry.pipeline, stage=record.stage, kind=StageTransitionType.INBOUND
    )
    sent_at = now_utc(caller.time)
    try:
        read_back = transition._switch_on()
    except PipepilotError as error:
        if may_have_acted(error):
            raise _EnableUnconfirmed(error, sent_at) from error
        raise
    # The transition was the freeze's disable when read just above; found enabled after our enable whose
    # answer was lost, the enable is taken as the thaw's own (another party's enable in those moments
    # cannot be told apart, and left the same state).
    lost = None if read_back is None else _lost_enable_note(read_back)
    return attrs.evolve(entry, thaw=ThawOutcome.ENABLED, thaw_note=lost, thaw_error=None, thaw_sent_at=None)


def _lost_enable_note(found: TransitionState) -> str:
    return (
        "the enable's answer was lost; read back: enabled"
        f" at {_isoformat(found.last_changed_at) or 'an unreported time'}"
        f" by {found.last_changed_by or 'an unreported principal'}"
    )
