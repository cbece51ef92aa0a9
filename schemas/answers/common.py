"""Shapes every area shares: the list pages, timestamps as they are answered, plain acks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, PlainSerializer

T = TypeVar("T")


def _iso(moment: datetime) -> str:
    return moment.isoformat()


# ORJSON, which answered before the models, writes `+00:00`; pydantic would write `Z`.
# Serialising through isoformat keeps the answers byte-for-byte what they were.
Timestamp = Annotated[datetime, PlainSerializer(_iso, return_type=str, when_used="json")]

# A JSON object whose keys are the caller's or a node's own (data, output, a profile).
JsonObject = dict[str, Any]


class Answer(BaseModel):
    """The root of every answer model. Answers are built by the API, never parsed from a
    caller, so unknown keys are ignored, not refused."""

    model_config = ConfigDict(extra="ignore")


class OpenAnswer(Answer):
    """An answer whose keys are open-ended (a seed shape with free keys): the declared
    fields are typed, the others pass through as they are."""

    model_config = ConfigDict(extra="allow")


class Listing(Answer, Generic[T]):
    """A list answered whole: `{count, results}`."""

    count: int
    results: list[T]


class Page(Listing[T], Generic[T]):
    """One page of a list: `{count, next, previous, results}`; next/previous are the URLs
    of the neighbouring pages, null at either end."""

    next: str | None
    previous: str | None


class CappedPage(Page[T], Generic[T]):
    """A page of a list whose count stops at FLUXO_LIST_COUNT_CAP (api/pagination.capped_page):
    `count_capped` is true when there are more rows than `count` says."""

    count_capped: bool
