"""Each wire member is declared once, on its field; readers and writers are generated from that.

These tests hold the mechanism itself to its promises: every modelled field carries its wire declaration,
a new model needs nothing but its fields, the code is generated on first use and not at import, shared
(interned) instances never blur "absent" and "empty", and subclasses read their own fields.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from pipepilot.model import _wire as wire, build, declaration, runtime, summaries
from pipepilot.model._wire import ABSENT_STR, EMPTY_EXTRA, WireModel, extra_field

if TYPE_CHECKING:
    from collections.abc import Mapping

# Fields a wire model may have besides its wire members: what pipepilot adds around the wire form.
_NOT_WIRE_MEMBERS = frozenset({"extra", "raw_timestamps", "conceals_external_id"})


def _wire_models() -> list[type]:
    return [
        model
        for module in (declaration, runtime, build, summaries)
        for _, model in inspect.getmembers(module, inspect.isclass)
        if issubclass(model, wire.TypedWireModel) and model.__module__ == module.__name__
    ]


@pytest.mark.parametrize("model", _wire_models(), ids=lambda model: model.__name__)
def test_every_model_field_declares_its_wire_member(model: type) -> None:
    """A model field without a wire declaration would be silently dropped by to_api: there is none."""
    undeclared = [
        field.name
        for field in attrs.fields(model)
        if wire._WIRE not in field.metadata and field.name not in _NOT_WIRE_MEMBERS
    ]
    assert undeclared == []
    assert wire.wire_members(model)


def test_wire_keys_are_the_camel_case_of_attribute_names_unless_declared() -> None:
    """``role_arn`` travels as ``roleArn``; a key AWS spells otherwise is declared with the field."""
    keys = {member.attr: member.key for member in wire.wire_members(runtime.ActionExecution)}
    assert keys["action_execution_id"] == "actionExecutionId"
    assert keys["log_stream_arn"] == "logStreamARN"


@attrs.frozen(kw_only=True)
class _Gadget(WireModel):
    """A model written the way every pipepilot model is: fields only."""

    gadget_name: str = attrs.field(metadata=wire.string())
    size: int | None = attrs.field(default=None, metadata=wire.integer())
    parts: tuple[declaration.InputArtifact, ...] | None = attrs.field(
        default=None, metadata=wire.structs(declaration.InputArtifact)
    )
    extra: Mapping[str, Any] = extra_field()


def test_a_model_needs_nothing_but_its_field_declarations() -> None:
    """Reading, writing, absent members, misfits and unknown members all follow from the fields alone."""
    data = {"gadgetName": "g", "size": "big", "parts": [{"name": "a"}], "colour": "red"}
    gadget = _Gadget.from_api(data)
    assert gadget.gadget_name == "g"
    assert gadget.size is None
    assert gadget.parts == (declaration.InputArtifact(name="a"),)
    assert gadget.extra == {"size": "big", "colour": "red"}
    assert gadget.to_api() == data
    missing = _Gadget.from_api({})
    assert missing.gadget_name is ABSENT_STR
    assert missing.to_api() == {}


def test_a_null_member_is_kept_in_extra_not_dropped() -> None:
    """``"size": null`` is no integer: the attribute reads as absent and the null is written back."""
    gadget = _Gadget.from_api({"gadgetName": "g", "size": None})
    assert gadget.size is None
    assert gadget.extra == {"size": None}
    assert gadget.to_api() == {"gadgetName": "g", "size": None}


def test_code_is_generated_on_first_use_not_at_import() -> None:
    """Importing the models generates nothing; the first from_api generates the readers it needs."""
    script = (
        "from pipepilot.model.declaration import PipelineDeclaration, ActionDeclaration\n"
        "before = '_wire_codec' in vars(ActionDeclaration)\n"
        "PipelineDeclaration.from_api({'name': 'p', 'roleArn': 'r', 'stages': []})\n"
        "print(before, '_wire_codec' in vars(PipelineDeclaration))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    assert done.stdout.split() == ["False", "True"]


def test_interned_models_share_instances_of_complete_clean_input() -> None:
    """A repeated action type reads as one shared instance; an edited copy is a new object."""
    data = {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"}
    first = declaration.ActionTypeId.from_api(dict(data))
    assert declaration.ActionTypeId.from_api(dict(data)) is first
    assert attrs.evolve(first, version="2") is not first
    assert first.extra is EMPTY_EXTRA


def test_interning_never_confuses_an_absent_member_with_an_empty_one() -> None:
    """``{"name": ""}`` and ``{}`` read differently and write back as read, whichever came first."""
    absent = declaration.InputArtifact.from_api({})
    empty = declaration.InputArtifact.from_api({"name": ""})
    assert dict(absent.to_api()) == {}
    assert empty.to_api() == {"name": ""}
    assert dict(declaration.InputArtifact.from_api({}).to_api()) == {}


def test_a_subclass_reads_and_writes_its_own_fields() -> None:
    """Generated code belongs to one class: a subclass with another field gets code of its own."""

    @attrs.frozen(kw_only=True)
    class _BigGadget(_Gadget):
        weight: int | None = attrs.field(default=None, metadata=wire.integer())

    _Gadget.from_api({"gadgetName": "g"})
    big = _BigGadget.from_api({"gadgetName": "g", "weight": 3})
    assert type(big) is _BigGadget
    assert big.weight == 3
    assert big.to_api() == {"gadgetName": "g", "weight": 3}
    assert _Gadget.from_api({"gadgetName": "g", "weight": 3}).extra == {"weight": 3}


def test_a_required_nested_model_must_name_its_placeholder() -> None:
    """Without a placeholder a missing nested model could not be told from a present one: refused."""

    @attrs.frozen(kw_only=True)
    class _Holder(WireModel):
        part: declaration.InputArtifact = attrs.field(metadata=wire.struct(declaration.InputArtifact))
        extra: Mapping[str, Any] = extra_field()

    with pytest.raises(TypeError, match="placeholder"):
        _Holder.from_api({})


def test_freeze_records_are_written_and_read_from_their_field_declarations() -> None:
    """A record entry with every member set writes each field under its name and reads back equal;
    a value the record never holds is refused, naming the member."""
    from datetime import datetime, timezone

    from pipepilot.freeze import FreezeOutcome, PipelineFreeze, ThawOutcome

    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    entry = PipelineFreeze(
        pipeline="p",
        outcome=FreezeOutcome.DISABLED,
        reason="r",
        changed_by="me",
        changed_at=moment,
        error_code="E",
        error="e",
        thaw=ThawOutcome.FAILED,
        thaw_note="n",
        thaw_error="t",
        thaw_sent_at=moment,
    )
    written = entry.to_dict()
    assert list(written) == [field.name for field in attrs.fields(PipelineFreeze)]
    assert written["changed_at"] == "2026-01-02T03:04:05+00:00"
    assert PipelineFreeze.from_dict(written) == entry
    with pytest.raises(ValueError, match=r"pipelines\['p'\]\.changed_by must be a string or null"):
        PipelineFreeze.from_dict({**written, "changed_by": 7})


def test_generated_code_shows_in_tracebacks() -> None:
    """A failure inside generated code points at a readable source line, as attrs' generated methods do."""
    import linecache
    import traceback

    @attrs.frozen(kw_only=True)
    class _Broken(WireModel):
        part: declaration.InputArtifact | None = attrs.field(
            default=None, metadata=wire.struct(declaration.InputArtifact)
        )
        extra: Mapping[str, Any] = extra_field()

    class _Exploding(dict[str, Any]):
        def get(self, *args: Any) -> Any:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError) as caught:
        _Broken.from_api(_Exploding())
    frames = traceback.extract_tb(caught.value.__traceback__)
    generated = [frame for frame in frames if frame.filename.startswith("<pipepilot wire")]
    assert generated
    line = generated[-1].lineno
    assert line is not None
    assert linecache.getline(generated[-1].filename, line).strip() == "raw = get('part')"


def test_event_views_read_their_declared_members_under_the_event_keys_leniently() -> None:
    """An event's members are declared once with their kebab-case keys; a value of another type reads
    as None instead of failing the whole event, and a required one missing is refused by name."""
    from pipepilot.errors import InvalidRequestError
    from pipepilot.model.events import EventExecutionResult, StageExecutionStateChange

    result = EventExecutionResult.from_detail({"external-execution-id": 5, "error-code": "JobFailed"})
    assert result.external_execution_id is None
    assert result.error_code == "JobFailed"
    keys = [member.key for member in wire.wire_members(StageExecutionStateChange)]
    assert keys == ["pipeline", "execution-id", "state", "stage"]
    event = {
        "source": "aws.codepipeline",
        "detail-type": "CodePipeline Stage Execution State Change",
        "detail": {"pipeline": "p", "execution-id": "e", "state": "STARTED"},
    }
    with pytest.raises(InvalidRequestError, match="'stage' must be a non-empty string"):
        StageExecutionStateChange.from_event(event)
