"""Direct tests of the pure response helpers in api_pages (the hook tests cover the rest)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airflow_provider_jumpcloud.api_pages import (
    MAX_RETRY_AFTER,
    UndecodablePageError,
    encode_query,
    parse_page,
    parse_retry_after,
    select_window,
    server_message,
    split_array,
)
from airflow_provider_jumpcloud.exceptions import MalformedPageError

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0), (" 0 ", 0.0), ("1.5", 1.5), ("-3", 0.0), ("99999", MAX_RETRY_AFTER),
        ("Wed, 01 Jan 2025 12:00:30 GMT", 30.0), ("Wed, 01 Jan 2025 11:00:00 GMT", 0.0),
        (None, None), ("", None), ("later", None), ("nan", None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, NOW) == expected


def test_encode_query_splices_the_token_verbatim():
    assert encode_query({"a": 1}, "[1e3, \"x\"]") == b'{"a":1,"search_after":[1e3, "x"]}'
    assert encode_query({}, "[1]") == b'{"search_after":[1]}'
    assert encode_query({"s": "é"}) == '{"s":"é"}'.encode()


def test_server_message_forms():
    assert server_message(b'{"message": "nope"}') == "nope"
    assert server_message(b'{"message": {"code": 1}}') == '{"code": 1}'
    assert server_message(b"  plain text ") == "plain text"
    assert server_message(b"\xff\xfe") == "\ufffd\ufffd"


def test_split_array_timestamps():
    events = split_array(b'[{"timestamp": "1970-01-01T00:00:01.5Z"}, {"timestamp": 5}, 3]')
    assert [ts for _, ts in events] == [1_500_000_000, None, None]


def test_split_array_rejects_non_arrays_without_retry():
    with pytest.raises(MalformedPageError) as info:
        split_array(b'{"message": "x"}')
    assert not isinstance(info.value, UndecodablePageError)
    with pytest.raises(UndecodablePageError):
        split_array(b"[1, 2")


def test_select_window_counts():
    events = [(b"a", 9), (b"b", 10), (b"c", 19), (b"d", 20), (b"e", None)]
    assert select_window(events, 10, 20) == ([b"b", b"c", b"e"], 1, 1)


def test_missing_headers_fall_back_to_the_body_and_requested_limit():
    page = parse_page(b"[1, 2]", {}, requested_limit=5)
    assert (page.result_count, page.limit, page.full, page.token_text) == (2, 5, False, None)
    with pytest.raises(MalformedPageError, match="no X-Search_after"):
        parse_page(b"[1, 2]", {}, requested_limit=2)
