"""Record upcasters: old record types read as current ones. Pure: dicts in, dicts out.

A record's type names its version (`fluxo.execution.completed.v1`). Changing a
record in a way `schemas/compat.py` calls breaking makes a new type (`….v2`,
a new model in RECORD_TYPES) and retires the old one: its model leaves
RECORD_TYPES and an upcaster takes its place here, turning the old data into
the next version's. Upcasters chain (v1 → v2 → v3) until the type has a
model, so a topic's whole history decodes to current types and no consumer
ever sees an old one (the model is pyeventsourcing's `upcast_vN_vN+1` in its
Mapper; here the version lives in the type string, so an upcaster also names
the type it produces).

The codec (schemas/codec.py) calls `UPCASTERS.upcast` only for a type without
a model, so decoding a current record costs nothing more than before: the one
RECORD_TYPES lookup it already did.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from schemas.envelope import RecordData
from schemas.errors import PoisonRecord
from schemas.records import RECORD_TYPES

Data = dict[str, Any]
# Old data in, (next type, next data) out. Pure and total over what the old
# model accepted: an upcaster must not fail on a record its version allowed.
Upcaster = Callable[[Data], tuple[str, Data]]

# No real history is that deep; a chain this long is a loop between upcasters.
MAX_CHAIN = 32


class Upcasters:
    """Upcasters by the type they read, chained up to a type that has a model in `current`."""

    def __init__(self, current: Mapping[str, type[RecordData]]) -> None:
        self.current = current
        self._by_type: dict[str, Upcaster] = {}

    def register(self, old_type: str) -> Callable[[Upcaster], Upcaster]:
        """Decorator: `@UPCASTERS.register("fluxo.x.v1")` on `def upcast_v1_v2(data) -> ("fluxo.x.v2", data)`."""

        def add(upcaster: Upcaster) -> Upcaster:
            if old_type in self.current:
                # A type is read by its model or by an upcaster, never both: the
                # codec looks the model up first and would never run the upcaster.
                raise ValueError(f"{old_type} still has a model; retire it from RECORD_TYPES before upcasting it")
            if old_type in self._by_type:
                raise ValueError(f"{old_type} already has an upcaster")
            self._by_type[old_type] = upcaster
            return upcaster

        return add

    def __contains__(self, record_type: object) -> bool:
        return record_type in self._by_type

    def retired(self) -> frozenset[str]:
        """The types read only through an upcaster."""
        return frozenset(self._by_type)

    def upcast(self, record_type: str, data: Data) -> tuple[str, type[RecordData], Data]:
        """The current (type, model, data) for a record of a type without a model.

        Raises PoisonRecord (the record is dead-lettered) for a type that has
        neither a model nor an upcaster, or whose chain ends on such a type.
        """
        chain = [record_type]
        upcaster = self._by_type.get(record_type)
        if upcaster is None:
            raise PoisonRecord(f"unknown record type {record_type!r}: no model and no upcaster")
        while upcaster is not None:
            if len(chain) > MAX_CHAIN:
                raise PoisonRecord(f"upcasters of {chain[0]!r} loop: {' -> '.join(chain[:5])} ...")
            try:
                record_type, data = upcaster(data)
            except Exception as exc:  # noqa: BLE001 - whatever it is, this record cannot be read: dead letter, not a crash loop
                raise PoisonRecord(f"upcasting {chain[-1]!r} failed: {type(exc).__name__}: {exc}") from None
            chain.append(record_type)
            upcaster = self._by_type.get(record_type)
        model = self.current.get(record_type)
        if model is None:
            raise PoisonRecord(
                f"unknown record type {record_type!r}: no model and no upcaster (upcast from {' -> '.join(chain[:-1])})"
            )
        return record_type, model, data


# The one registry the codec reads. Register an upcaster next to the change
# that retires a type, below, and commit a stored record of the old type under
# tests/unit/schemas/stored/ (README: "Record and state versions").
UPCASTERS = Upcasters(RECORD_TYPES)


# The display prefix kept of a webhook token (ingest.webhooks.TOKEN_PREFIX_LENGTH).
WEBHOOK_TOKEN_PREFIX = 8


@UPCASTERS.register("fluxo.webhook.defined.v1")
def upcast_webhook_v1_v2(data: Data) -> tuple[str, Data]:
    """v1 held the token in clear: keep its digest and display prefix only, and keep taking the
    `sha256=` signatures its senders make (v2 webhooks default to timestamped ones)."""
    new = {k: v for k, v in data.items() if k != "token"}
    token = str(data["token"])
    # ingest.webhooks.token_digest (schemas imports no other package of ours;
    # tests/unit/schemas/test_upcasting.py checks the two agree).
    new["token_digest"] = hashlib.sha256(token.encode()).hexdigest()
    new["token_prefix"] = token[:WEBHOOK_TOKEN_PREFIX]
    new["signature_format"] = "legacy"
    return "fluxo.webhook.defined.v2", new
