"""Writes one stored record per record type, as today's encoder writes it.

Run once per NEW record type (`.venv/bin/python tests/unit/schemas/stored/generate.py`):
it writes only the files that are missing and never rewrites one, because the
committed files are the old records every later version must still decode
(tests/unit/schemas/test_upcasting.py). When a type is retired (a `….v2`
with an upcaster), its stored file stays as it is; the example of the new
type gets a file of its own on the next run.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECORDS = HERE / "records"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def main() -> None:
    sys.path.insert(0, str(HERE.parent))  # tests/unit/schemas: the examples of every type
    from test_compatibility import examples

    from schemas.codec import encode
    from schemas.envelope import make_envelope

    RECORDS.mkdir(exist_ok=True)
    for type_name, data in sorted(examples().items()):
        path = RECORDS / f"{type_name}.json"
        if path.exists():
            continue
        envelope = make_envelope(
            data, source="tests/stored", workspace_id="ws-1", id=f"stored-{type_name}", time=T0,
            execution_id="ex-1", subject="u-1",
        )
        path.write_bytes(encode(envelope))
        print(f"wrote {path.relative_to(HERE)}")


if __name__ == "__main__":
    main()
