"""The shared answer shapes: timestamps answered as they were before the models, pages
with and without their capped count, and unknown keys ignored, not answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from pydantic import TypeAdapter

from schemas.answers.common import Answer, CappedPage, Listing, OpenAnswer, Page, Timestamp

MOMENT = datetime(2026, 12, 3, 13, 0, 0, 123456, tzinfo=UTC)


def test_a_timestamp_is_answered_as_orjson_wrote_it() -> None:
    # orjson (the default response class) wrote `+00:00`; pydantic alone would write `Z`.
    adapter = TypeAdapter(Timestamp)
    assert adapter.dump_python(MOMENT, mode="json") == "2026-12-03T13:00:00.123456+00:00"
    paris = MOMENT.astimezone(timezone(timedelta(hours=1)))
    assert adapter.dump_python(paris, mode="json") == "2026-12-03T14:00:00.123456+01:00"
    assert adapter.dump_python(adapter.validate_python("2026-12-03T13:00:00Z"), mode="json") == "2026-12-03T13:00:00+00:00"


class Item(Answer):
    id: str
    at: Timestamp


def test_pages_keep_their_keys_and_only_theirs() -> None:
    row = {"id": "a", "at": MOMENT, "internal": "not answered"}
    page = Page[Item].model_validate({"count": 1, "next": None, "previous": None, "results": [row]})
    assert page.model_dump(mode="json") == {
        "count": 1, "results": [{"id": "a", "at": "2026-12-03T13:00:00.123456+00:00"}], "next": None, "previous": None,
    }
    capped = CappedPage[Item].model_validate({**page.model_dump(), "count_capped": True})
    assert capped.model_dump(mode="json")["count_capped"] is True
    assert set(Listing[Item].model_validate({"count": 0, "results": []}).model_dump()) == {"count", "results"}


def test_an_open_answer_passes_its_free_keys_through() -> None:
    class Document(OpenAnswer):
        title: str

    assert Document.model_validate({"title": "t", "$defs": {"x": 1}}).model_dump() == {"title": "t", "$defs": {"x": 1}}
