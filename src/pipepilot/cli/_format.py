"""Small text helpers of the command: times, ages, short ids (pure)."""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["age", "clock_time", "duration", "iso", "short_id"]


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC (``2026-01-01T00:06:13+00:00``), or ``None``."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def clock_time(epoch: float) -> str:
    """``HH:MM:SS`` (UTC) of epoch seconds."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%H:%M:%S")


def duration(seconds: float) -> str:
    """``95`` -> ``1m35s``; ``3725`` -> ``1h02m05s``."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def age(seconds: float | None) -> str:
    """A short age: ``42s``, ``7m``, ``3h``, ``2d`` (``-`` when unknown)."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def short_id(execution_id: str | None) -> str:
    """The first block of a UUID: enough to tell executions apart on screen."""
    return (execution_id or "-").split("-")[0]
