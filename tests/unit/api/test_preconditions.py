"""If-Match against a definition's version: RFC 9110's strong comparison, our ETag spelling."""

from __future__ import annotations

import pytest
from starlette.responses import Response

from api.preconditions import etag, matches, tag, tagged


def test_the_etag_is_the_quoted_version() -> None:
    assert etag(1) == '"v1"'
    assert etag(42) == '"v42"'


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('"v3"', True),
        (' "v3" ', True),
        ('"v1", "v3"', True),
        ('"v3","v4"', True),
        ("*", True),
        ('"v2"', False),
        ('"v33"', False),
        ('W/"v3"', False),  # a weak tag never matches in a strong comparison
        ("v3", False),  # not an entity tag: unquoted
        ("3", False),
        ('"3"', False),
        ("", False),
        (",", False),
        ('"v2", W/"v3"', False),
    ],
)
def test_if_match_matches_only_the_current_version(header: str, expected: bool) -> None:
    assert matches(header, 3) is expected


def test_tag_and_tagged_set_the_etag_header() -> None:
    response = Response()
    tag(response, 7)
    assert response.headers["etag"] == '"v7"'
    answer = {"id": "a", "version": 8}
    assert tagged(response, answer) is answer
    assert response.headers["etag"] == '"v8"'
