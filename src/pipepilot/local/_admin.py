"""The admin endpoint of a served offline world: ``/_pipepilot/...``, JSON in and out.

What a test or a demo does with the :class:`~pipepilot.local.OfflineAWS` handle in-process, a shell does
here: read the world's clock and settings, move the clock, switch faults on and off, script how actions,
rules and builds end, register a trivial Lambda function for invoke actions, push a source revision and
read the EventBridge events. Request bodies are JSON objects whose keys are the keyword arguments of the
matching Python call (``aws.faults.add(...)``, ``aws.script_action(...)``, ...), so the two are documented
once, in ``docs/local.md``. Bad input answers 400 with ``{"error": ..., "message": ...}`` and changes
nothing; an unknown path answers 404, a known path with another method 405.

Nothing here holds a lock while it calls the world: the clock runs its timers (and the handlers they call)
in the calling thread, outside every lock, as it does in-process.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable

    from pipepilot.local import OfflineAWS
    from pipepilot.local.faults import FaultRule

__all__ = ["PREFIX", "AdminAPI", "AdminError", "as_json"]

logger = logging.getLogger(__name__)

#: Every admin path starts with this; no AWS API uses it (an S3 bucket name cannot start with "_").
PREFIX = "/_pipepilot"

_FAULT_OPTIONS = frozenset(
    {
        "service",
        "operation",
        "error",
        "status",
        "message",
        "rate",
        "nth",
        "times",
        "latency",
        "latency_clock",
        "above_rate",
        "burst",
        "applied",
    }
)
_ACTION_SCRIPT_OPTIONS = frozenset(
    {
        "pipeline",
        "stage",
        "action",
        "outcome",
        "duration",
        "error_code",
        "error_message",
        "summary",
        "external_execution_id",
        "output_variables",
        "times",
    }
)
_RULE_SCRIPT_OPTIONS = frozenset({"pipeline", "stage", "rule", "outcome", "duration", "summary", "times"})
_BUILD_SCRIPT_OPTIONS = frozenset(
    {
        "project",
        "fail_in",
        "status",
        "message",
        "phase_durations",
        "exported_variables",
        "log_lines",
        "artifact_files",
        "times",
    }
)
_REVISION_OPTIONS = frozenset(
    {"pipeline", "action", "revision_id", "branch", "file_paths", "tag", "summary", "region"}
)
_LAMBDA_OPTIONS = frozenset({"name", "outcome", "output_variables", "summary", "message"})
_SETTINGS_OPTIONS = frozenset({"verify_roles", "max_concurrent_builds"})


class AdminError(Exception):
    """A request the admin endpoint refuses: HTTP ``status``, an ``error`` code and a one-line message."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


@attrs.define(eq=False)
class _TrivialLambda:
    """A Lambda function registered from the shell: it answers every job the same way, and counts them."""

    aws: OfflineAWS
    outcome: str
    output_variables: Mapping[str, str] | None
    summary: str | None
    message: str
    invocations: int = 0
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        """Answer the job of a ``CodePipeline.job`` event with the registered outcome."""
        with self._lock:
            self.invocations += 1
        job_id = event["CodePipeline.job"]["id"]
        # The function's ARN names the region of the pipeline that invoked it.
        arn = getattr(context, "invoked_function_arn", "")
        region = arn.split(":")[3] if arn.count(":") >= 3 else None
        codepipeline = self.aws.client("codepipeline", region=region or None)
        if self.outcome == "Succeeded":
            options: dict[str, Any] = {}
            if self.output_variables:
                options["outputVariables"] = dict(self.output_variables)
            if self.summary is not None:
                options["executionDetails"] = {"summary": self.summary}
            codepipeline.put_job_success_result(jobId=job_id, **options)
        else:
            codepipeline.put_job_failure_result(
                jobId=job_id, failureDetails={"type": "JobFailed", "message": self.message}
            )


class AdminAPI:
    """Answers the admin requests of one served world (``aws``, an active offline context)."""

    def __init__(
        self,
        aws: OfflineAWS,
        *,
        speed: float,
        requests: Callable[[], int],
        reset: Callable[[int | None], dict[str, Any]] | None = None,
    ) -> None:
        self._aws = aws
        self._speed = speed
        self._requests = requests
        self._reset = reset
        self._lambdas: dict[str, _TrivialLambda] = {}
        self._lambdas_lock = threading.Lock()
        self._routes: dict[tuple[str, str], Callable[[dict[str, Any], dict[str, str]], Any]] = {
            ("GET", "/"): self._index,
            ("GET", "/health"): self._info,
            ("GET", "/info"): self._info,
            ("GET", "/clock"): self._clock,
            ("POST", "/clock/advance"): self._advance,
            ("POST", "/clock/run-until-idle"): self._run_until_idle,
            ("GET", "/faults"): self._faults,
            ("POST", "/faults"): self._add_fault,
            ("DELETE", "/faults"): self._clear_faults,
            ("POST", "/scripts/action"): self._script_action,
            ("POST", "/scripts/rule"): self._script_rule,
            ("POST", "/scripts/build"): self._script_build,
            ("GET", "/lambdas"): self._list_lambdas,
            ("POST", "/lambdas"): self._register_lambda,
            ("POST", "/revisions"): self._push_revision,
            ("GET", "/events"): self._events,
            ("GET", "/settings"): self._settings,
            ("POST", "/reset"): self._reset_world,
            ("POST", "/settings"): self._change_settings,
        }

    def handle(self, method: str, path: str, query: str, body: bytes) -> tuple[int, Any]:
        """Answer one admin request: ``(HTTP status, JSON-ready answer)``; never raises for bad input."""
        route = path[len(PREFIX) :].rstrip("/") or "/"
        handler = self._routes.get((method, route))
        try:
            if handler is None:
                if any(known == route for _, known in self._routes):
                    raise AdminError(405, "MethodNotAllowed", f"{method} is not allowed on {path}")
                raise AdminError(404, "NotFound", f"no admin endpoint {path} (see docs/local.md)")
            return 200, handler(_json_object(body), dict(parse_qsl(query)))
        except AdminError as error:
            return error.status, {"error": error.error, "message": error.message}
        except LookupError as error:  # an unknown pipeline or action (push_revision)
            return 404, {"error": "NotFound", "message": _message(error)}
        except (TypeError, ValueError) as error:  # the library's own argument checks
            return 400, {"error": "InvalidArgument", "message": _message(error)}

    # -- world and clock -------------------------------------------------------------------------------

    def _index(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """Every admin endpoint, as ``"METHOD /_pipepilot/path"`` (the documentation is docs/local.md)."""
        _accept(body, frozenset())
        return {
            "endpoints": [f"{method} {PREFIX}{path.rstrip('/')}" for method, path in self._routes],
            "documentation": "docs/local.md, section Serving over HTTP",
        }

    def _info(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """Health and identity: the world's region, account, seed, speed, virtual now and requests answered."""
        _accept(body, frozenset())
        aws = self._aws
        return {
            "status": "ok",
            "service": "pipepilot.local",
            "version": _version(),
            "region": aws.region,
            "account_id": aws.account_id,
            "seed": aws.seed,
            "speed": self._speed,
            "requests": self._requests(),
            **self._clock(body, query),
        }

    def _clock(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """The virtual clock: now (epoch seconds and ISO 8601), timers pending, the next one due."""
        _accept(body, frozenset())
        clock = self._aws.clock
        now = clock.now()
        return {
            "now": now,
            "now_iso": _iso(now),
            "pending_timers": clock.pending(),
            "next_due": clock.next_due(),
        }

    def _advance(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """Move the clock by ``seconds``, or to ``to`` (epoch seconds or ISO 8601), running due timers."""
        _accept(body, frozenset({"seconds", "to"}))
        if ("seconds" in body) == ("to" in body):
            raise AdminError(400, "InvalidArgument", 'give exactly one of "seconds" and "to"')
        clock = self._aws.clock
        if "seconds" in body:
            seconds = _number(body["seconds"], "seconds")
            if seconds < 0:
                raise AdminError(400, "InvalidArgument", f"the clock never goes back (seconds: {seconds!r})")
            clock.advance(seconds)
        else:
            to = _instant(body["to"])
            if to < clock.now():
                raise AdminError(400, "InvalidArgument", f"the clock never goes back (to: {_iso(to)})")
            clock.advance_to(to)
        return self._clock({}, query)

    def _run_until_idle(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """Advance timer by timer until nothing is scheduled (at most ``limit`` seconds, default 366 days)."""
        _accept(body, frozenset({"limit"}))
        if "limit" in body:
            self._aws.clock.run_until_idle(limit=_number(body["limit"], "limit"))
        else:
            self._aws.clock.run_until_idle()
        return self._clock({}, query)

    # -- faults ----------------------------------------------------------------------------------------

    def _faults(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """The fault plan's rules (with their live counters) and every fault injected so far."""
        _accept(body, frozenset())
        faults = self._aws.faults
        return {
            "rules": [_rule(rule) for rule in list(faults.rules)],
            "log": [attrs.asdict(fault) for fault in list(faults.log)],
        }

    def _add_fault(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """Add a rule, as ``aws.faults.add(**body)`` does; answers the rule."""
        _accept(body, _FAULT_OPTIONS)
        return {"rule": _rule(self._aws.faults.add(**body))}

    def _clear_faults(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """Remove every rule (the log stays)."""
        _accept(body, frozenset())
        self._aws.faults.clear()
        return {"rules": []}

    # -- scripts ---------------------------------------------------------------------------------------

    def _script_action(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """``aws.script_action(**body)``: how runs of one action end."""
        _accept(body, _ACTION_SCRIPT_OPTIONS, required=("pipeline", "stage", "action"))
        return {"script": _script(self._aws.script_action(**body))}

    def _script_rule(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """``aws.script_rule(**body)``: how evaluations of one stage-condition rule end."""
        _accept(body, _RULE_SCRIPT_OPTIONS, required=("pipeline", "stage", "rule"))
        return {"script": _script(self._aws.script_rule(**body))}

    def _script_build(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """``aws.script_build(**body)``: how builds of one project go."""
        _accept(body, _BUILD_SCRIPT_OPTIONS, required=("project",))
        return {"script": _script(self._aws.script_build(**body))}

    # -- Lambda functions, revisions, events, settings -------------------------------------------------

    def _list_lambdas(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """The functions registered here, with how they answer and how often they were invoked."""
        _accept(body, frozenset())
        with self._lambdas_lock:
            functions = dict(self._lambdas)
        return {
            "functions": [
                {"name": name, "outcome": function.outcome, "invocations": function.invocations}
                for name, function in sorted(functions.items())
            ]
        }

    def _register_lambda(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """Register a function that answers every Lambda invoke job of ``name`` with ``outcome``.

        ``"Succeeded"`` (the default) calls PutJobSuccessResult with ``output_variables`` and ``summary``;
        ``"Failed"`` calls PutJobFailureResult with ``message``. Registering a name again replaces it.
        """
        _accept(body, _LAMBDA_OPTIONS, required=("name",))
        outcome = body.get("outcome", "Succeeded")
        if outcome not in ("Succeeded", "Failed"):
            raise AdminError(400, "InvalidArgument", f'outcome is "Succeeded" or "Failed", not {outcome!r}')
        variables = body.get("output_variables")
        if variables is not None and (
            not isinstance(variables, dict) or not all(isinstance(value, str) for value in variables.values())
        ):
            raise AdminError(400, "InvalidArgument", "output_variables is an object of strings")
        for option in ("summary", "message"):
            if body.get(option) is not None and not isinstance(body[option], str):
                raise AdminError(400, "InvalidArgument", f"{option} is a string")
        function = _TrivialLambda(
            aws=self._aws,
            outcome=outcome,
            output_variables=variables,
            summary=body.get("summary"),
            message=body.get("message") or "The function failed (registered through pipepilot.local serve).",
        )
        self._aws.register_lambda(body["name"], function)
        with self._lambdas_lock:
            self._lambdas[body["name"]] = function
        return {"function": {"name": body["name"], "outcome": outcome, "invocations": 0}}

    def _push_revision(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """``aws.push_revision(**body)``: a new source revision; answers the execution it started, if any."""
        _accept(body, _REVISION_OPTIONS, required=("pipeline",))
        return {"pipeline_execution_id": self._aws.push_revision(**body)}

    def _events(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """EventBridge events emitted so far, from index ``since`` (query parameter, default 0)."""
        _accept(body, frozenset())
        try:
            since = int(query.get("since", "0"))
        except ValueError:
            raise AdminError(400, "InvalidArgument", "since is a whole number") from None
        if since < 0:
            raise AdminError(400, "InvalidArgument", "since is a whole number")
        events = self._aws.events
        # Read once: the log may grow meanwhile, and `next` must match what was answered.
        selected = list(events[since:])
        return {"events": selected, "next": since + len(selected)}

    def _reset_world(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """Replace the world by a fresh one (``seed`` optional); answers the new world's info."""
        _accept(body, frozenset({"seed"}))
        seed = body.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise AdminError(400, "InvalidArgument", f"seed is a whole number, not {seed!r}")
        if self._reset is None:
            raise AdminError(
                409, "Conflict", "this server serves a world it did not start; it cannot reset it"
            )
        return self._reset(seed)

    def _settings(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """The world's switches a shell may change: ``verify_roles``, ``max_concurrent_builds``."""
        _accept(body, frozenset())
        return {
            "verify_roles": self._aws.verify_roles,
            "max_concurrent_builds": self._aws.max_concurrent_builds,
        }

    def _change_settings(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """Change ``verify_roles`` (a boolean) and/or ``max_concurrent_builds`` (a number or null)."""
        _accept(body, _SETTINGS_OPTIONS)
        if "verify_roles" in body and not isinstance(body["verify_roles"], bool):
            raise AdminError(400, "InvalidArgument", "verify_roles is true or false")
        limit = body.get("max_concurrent_builds")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise AdminError(400, "InvalidArgument", "max_concurrent_builds is a whole number or null")
        if "verify_roles" in body:
            self._aws.verify_roles = body["verify_roles"]
        if "max_concurrent_builds" in body:
            self._aws.max_concurrent_builds = limit
        return self._settings({}, query)


def as_json(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON (anything JSON cannot hold, such as a datetime, as its text)."""
    return json.dumps(value, separators=(",", ":"), default=str).encode()


def _json_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object (``{}`` when empty)."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError as error:
        raise AdminError(400, "MalformedJSON", f"the body is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise AdminError(400, "MalformedJSON", "the body must be a JSON object")
    return value


def _accept(body: Mapping[str, Any], allowed: frozenset[str], *, required: tuple[str, ...] = ()) -> None:
    """Refuse keys outside ``allowed`` and missing ``required`` ones, naming them."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed)) if allowed else "none"
        raise AdminError(400, "InvalidArgument", f"unknown field(s) {', '.join(unknown)} (accepted: {known})")
    missing = [name for name in required if name not in body]
    if missing:
        raise AdminError(400, "InvalidArgument", f"missing field(s) {', '.join(missing)}")


def _number(value: object, name: str) -> float:
    """``value`` as a finite float, or a 400 naming ``name``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value != value
        or abs(value) == float("inf")
    ):
        raise AdminError(400, "InvalidArgument", f"{name} is a number of seconds, not {value!r}")
    return float(value)


def _instant(value: object) -> float:
    """An absolute time (epoch seconds, or ISO 8601 with a time zone) as epoch seconds."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise AdminError(
                400, "InvalidArgument", f"to is epoch seconds or ISO 8601, not {value!r}"
            ) from None
        if moment.tzinfo is None:
            raise AdminError(400, "InvalidArgument", "to needs a time zone (e.g. 2026-01-02T00:00:00Z)")
        return moment.timestamp()
    return _number(value, "to")


def _iso(epoch: float) -> str:
    """Epoch seconds as ISO 8601 in UTC, to the millisecond."""
    return (
        datetime.fromtimestamp(epoch, tz=timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _rule(rule: FaultRule) -> dict[str, Any]:
    """A fault rule as JSON: its selection, its error and triggers, and its live counters."""
    return {
        "index": rule.index,
        "service": rule.service,
        "operations": sorted(rule.operations) if rule.operations is not None else None,
        "error": rule.error,
        "status": rule.status,
        "message": rule.message,
        "rate": rule.rate,
        "nth": sorted(rule.nth) if rule.nth is not None else None,
        "above_rate": rule.above_rate,
        "times": rule.times,
        "latency": rule.latency,
        "latency_clock": rule.latency_clock,
        "applied": rule.applied,
        "calls": rule.calls,
        "fired": rule.fired,
    }


def _script(script: object) -> dict[str, Any]:
    """A scripted outcome as JSON (its fields; artifact file contents are left out)."""
    fields = attrs.asdict(script, recurse=False)  # type: ignore[arg-type]
    if fields.get("artifact_files") is not None:
        fields["artifact_files"] = sorted(fields["artifact_files"])
    return {name: _plain(value) for name, value in fields.items()}


def _plain(value: object) -> object:
    """A script field as plain JSON data (mappings and tuples as objects and lists)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return str(value)


def _message(error: BaseException) -> str:
    """An exception's message on one line (a ``KeyError`` without its quotes)."""
    text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    return " ".join(str(text).split())


def _version() -> str:
    """pipepilot's version."""
    from pipepilot import __version__

    return __version__
