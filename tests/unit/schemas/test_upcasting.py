"""Records written by earlier versions decode, through the one decode path, to current types.

`stored/records/` holds one record of every type as the encoder wrote it when
the type was current (stored/generate.py wrote them; it only adds files). A
change to a record that breaks them needs a new type and an upcaster
(schemas/upcasting.py), and then they pass again. The chain itself is
exercised on a test-only type (`stored/chain/`) with a test-local registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas import codec
from schemas.codec import decode, decode_record
from schemas.envelope import RecordData
from schemas.errors import PoisonRecord
from schemas.records import RECORD_TYPES, ExecutionCompleted
from schemas.upcasting import UPCASTERS, Upcasters

STORED = Path(__file__).resolve().parent / "stored"
RECORDS = sorted((STORED / "records").glob("*.json"))


# -- every stored old record, through the real registries -------------------------------
def test_every_current_type_has_a_stored_record() -> None:
    stored = {path.stem for path in RECORDS}
    missing = set(RECORD_TYPES) - stored
    assert not missing, f"run tests/unit/schemas/stored/generate.py for the new types {sorted(missing)}"


def test_every_retired_type_keeps_its_stored_record() -> None:
    assert UPCASTERS.retired() <= {path.stem for path in RECORDS}


def test_no_type_has_both_a_model_and_an_upcaster() -> None:
    assert not UPCASTERS.retired() & set(RECORD_TYPES)


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.stem)
def test_a_stored_record_decodes_to_its_current_model(path: Path) -> None:
    value = path.read_bytes()
    written = orjson.loads(value)
    for envelope, data in (decode(value), decode_record(value)):
        assert envelope.type in RECORD_TYPES
        assert type(data) is RECORD_TYPES[envelope.type]
        if written["type"] in RECORD_TYPES:
            assert envelope.type == written["type"]
            # Read as written: every stored field means what it meant (a field retyped
            # in place, so that the old value still validates but as something else, fails here).
            dumped = data.model_dump(mode="json")
            assert {k: dumped[k] for k in written["data"]} == written["data"]
        else:
            assert written["type"] in UPCASTERS
        # The envelope's own attributes survive whatever happened to its type and data.
        assert (envelope.id, envelope.source, envelope.workspaceid, envelope.executionid) == (
            written["id"], written["source"], written["workspaceid"], written["executionid"]
        )
        assert envelope.time.isoformat().replace("+00:00", "Z") == written["time"]


# -- an upcaster chain, on a test-only type ----------------------------------------------
class WidgetV3(RecordData):
    TYPE = "fluxo.test.widget.v3"
    first_name: str
    last_name: str
    size: int
    tags: tuple[str, ...]


def upcast_v1_v2(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # v2 split the name in two.
    first, _, last = data.pop("name").partition(" ")
    return "fluxo.test.widget.v2", {**data, "first_name": first, "last_name": last}


def upcast_v2_v3(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # v3 made size a number and added tags, empty for the records before it.
    return WidgetV3.TYPE, {**data, "size": int(data["size"]), "tags": []}


@pytest.fixture
def widgets(monkeypatch: pytest.MonkeyPatch) -> Upcasters:
    """The codec with a test-local registry (and model set) in place of the real ones, for one test."""
    current: dict[str, type[RecordData]] = {**RECORD_TYPES, WidgetV3.TYPE: WidgetV3}
    registry = Upcasters(current)
    registry.register("fluxo.test.widget.v1")(upcast_v1_v2)
    registry.register("fluxo.test.widget.v2")(upcast_v2_v3)
    monkeypatch.setattr(codec, "RECORD_TYPES", current)
    monkeypatch.setattr(codec, "UPCASTERS", registry)
    monkeypatch.setattr(codec, "_TYPED", None)  # the one-pass union is rebuilt from `current`, then put back
    return registry


def _record(record_type: str, data: dict[str, Any]) -> bytes:
    body = orjson.loads((STORED / "chain" / "fluxo.test.widget.v1.json").read_bytes())
    return orjson.dumps({**body, "type": record_type, "data": data})


@pytest.mark.usefixtures("widgets")
@pytest.mark.parametrize("decoder", [decode, decode_record], ids=["decode", "decode_record"])
def test_a_stored_v1_decodes_as_v3(decoder: Any) -> None:
    value = (STORED / "chain" / "fluxo.test.widget.v1.json").read_bytes()
    envelope, data = decoder(value)
    assert data == WidgetV3(first_name="Ada", last_name="Lovelace", size=3, tags=())
    assert envelope.type == WidgetV3.TYPE and envelope.data == {
        "first_name": "Ada", "last_name": "Lovelace", "size": 3, "tags": []
    }
    written = orjson.loads(value)
    kept = ("id", "source", "subject", "workspaceid", "executionid", "correlationid", "causationid", "depth")
    assert {k: getattr(envelope, k) for k in kept} == {k: written[k] for k in kept}


@pytest.mark.usefixtures("widgets")
def test_a_chain_starts_wherever_the_record_is() -> None:
    _, data = decode(_record("fluxo.test.widget.v2", {"first_name": "Bo", "last_name": "", "size": "1"}))
    assert data == WidgetV3(first_name="Bo", last_name="", size=1, tags=())


@pytest.mark.usefixtures("widgets")
def test_a_current_type_is_not_upcast() -> None:
    value = (STORED / "records" / f"{ExecutionCompleted.TYPE}.json").read_bytes()
    envelope, data = decode(value)
    assert envelope.type == ExecutionCompleted.TYPE and isinstance(data, ExecutionCompleted)


@pytest.mark.usefixtures("widgets")
@pytest.mark.parametrize("decoder", [decode, decode_record], ids=["decode", "decode_record"])
def test_a_type_with_neither_model_nor_upcaster_is_poison(decoder: Any) -> None:
    with pytest.raises(PoisonRecord) as info:
        decoder(_record("fluxo.test.gadget.v1", {}))
    assert info.value.message == "unknown record type 'fluxo.test.gadget.v1': no model and no upcaster"


def test_a_chain_that_ends_without_a_model_is_poison(widgets: Upcasters) -> None:
    widgets.register("fluxo.test.gizmo.v1")(lambda data: ("fluxo.test.gizmo.v2", data))
    with pytest.raises(PoisonRecord) as info:
        decode(_record("fluxo.test.gizmo.v1", {}))
    assert info.value.message == (
        "unknown record type 'fluxo.test.gizmo.v2': no model and no upcaster (upcast from fluxo.test.gizmo.v1)"
    )


@pytest.mark.usefixtures("widgets")
def test_upcast_data_the_current_model_refuses_is_poison_naming_the_old_type() -> None:
    with pytest.raises(PoisonRecord) as info:
        decode(_record("fluxo.test.widget.v1", {"name": "Ada Lovelace", "size": "3", "colour": "red"}))
    assert info.value.message == (
        "invalid fluxo.test.widget.v3 data (upcast from fluxo.test.widget.v1): colour: Extra inputs are not permitted"
    )


@pytest.mark.usefixtures("widgets")
def test_an_upcaster_that_fails_makes_the_record_poison_not_a_crash() -> None:
    with pytest.raises(PoisonRecord) as info:
        decode(_record("fluxo.test.widget.v1", {"name": "Ada Lovelace", "size": "big"}))
    assert info.value.message == (
        "upcasting 'fluxo.test.widget.v2' failed: ValueError: invalid literal for int() with base 10: 'big'"
    )


def test_upcasters_that_loop_are_poison(widgets: Upcasters) -> None:
    widgets.register("fluxo.test.ping.v1")(lambda data: ("fluxo.test.pong.v1", data))
    widgets.register("fluxo.test.pong.v1")(lambda data: ("fluxo.test.ping.v1", data))
    with pytest.raises(PoisonRecord, match="loop"):
        decode(_record("fluxo.test.ping.v1", {}))


def test_a_current_type_cannot_get_an_upcaster(widgets: Upcasters) -> None:
    with pytest.raises(ValueError, match="still has a model"):
        widgets.register(ExecutionCompleted.TYPE)(lambda data: (ExecutionCompleted.TYPE, data))
    with pytest.raises(ValueError, match="already has an upcaster"):
        widgets.register("fluxo.test.widget.v1")(upcast_v1_v2)


def test_the_fixture_left_the_real_registries_alone() -> None:
    assert vars(codec)["UPCASTERS"] is UPCASTERS and vars(codec)["RECORD_TYPES"] is RECORD_TYPES
    assert WidgetV3.TYPE not in RECORD_TYPES and "fluxo.test.widget.v1" not in UPCASTERS


@pytest.mark.usefixtures("widgets")
def test_a_binary_mode_record_of_a_retired_type_is_upcast_too() -> None:
    written = orjson.loads((STORED / "chain" / "fluxo.test.widget.v1.json").read_bytes())
    headers = [(f"ce_{k}", str(v).encode()) for k, v in written.items() if k != "data"]
    envelope, data = decode(orjson.dumps(written["data"]), headers)
    assert envelope.type == WidgetV3.TYPE and envelope.id == "widget-1"
    assert data == WidgetV3(first_name="Ada", last_name="Lovelace", size=3, tags=())


# -- the real upcasters -------------------------------------------------------------------
def test_a_v1_webhook_keeps_only_its_tokens_digest_and_takes_legacy_signatures() -> None:
    from ingest.webhooks import token_digest, token_prefix
    from schemas.records import WebhookDefined

    value = (STORED / "records" / "fluxo.webhook.defined.v1.json").read_bytes()
    token = orjson.loads(value)["data"]["token"]
    for envelope, data in (decode(value), decode_record(value)):
        assert envelope.type == "fluxo.webhook.defined.v2" and isinstance(data, WebhookDefined)
        assert data.token_digest == token_digest(token) and data.token_prefix == token_prefix(token)
        assert data.signature_format == "legacy"  # its senders sign sha256=<hex> and keep working
        assert token not in envelope.model_dump_json() and token not in data.model_dump_json()
        assert (data.id, data.name, data.auth_mode, data.secret_sealed) == ("wh-1", "Leads", "hmac", "k1:abc")
