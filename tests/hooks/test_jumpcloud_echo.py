"""A server that echoes the credential (bodies, X-Request-Id, error reasons) never makes the hook show it."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, quote_plus

import pytest

from airflow_provider_jumpcloud.api_auth import SecretScrubber
from airflow_provider_jumpcloud.exceptions import JumpCloudError
from tests.hooks.fake_di import COUNT_URL, EVENTS_URL

T0 = datetime(2025, 1, 1, 4, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=15)
KEY = "echo/key+7f3a==c41d9e"  # characters URL-encoding changes
FORMS = (KEY, quote(KEY, safe=""), quote_plus(KEY), base64.b64encode(KEY.encode()).decode())


@pytest.fixture
def echo_conn(set_conn, masked):
    set_conn("echo", password=KEY)
    return masked


def leaks(*texts: str) -> list[str]:
    joined = "\n".join(texts)
    return [form for form in FORMS if form in joined]


def all_forms(prefix: str = "") -> str:
    return prefix + " | ".join(FORMS)


@pytest.mark.parametrize(
    ("url", "response", "call"),
    [
        (COUNT_URL, {"text": f"bad request for key {KEY}", "headers": {"X-Request-Id": all_forms()}}, "count"),
        (COUNT_URL, {"status_code": 401, "json": {"message": all_forms("invalid key ")},
                     "headers": {"X-Request-Id": all_forms("rid-")}}, "count"),
        (COUNT_URL, {"status_code": 404, "text": all_forms("<html>"), "headers": {"X-Request-Id": KEY}}, "count"),
        (EVENTS_URL, {"text": "[]", "headers": {"X-Result-Count": "3", "X-Request-Id": all_forms()}}, "events"),
        (EVENTS_URL, {"text": "[{}]", "headers": {"X-Result-Count": "1", "X-Limit": "1",
                                                  "X-Search_after": json.dumps([1, KEY])}}, "events"),
        (EVENTS_URL, {"text": all_forms("<html>"), "headers": {"X-Request-Id": all_forms()}}, "events"),
        (EVENTS_URL, {"status_code": 503, "json": {"message": all_forms()}, "headers": {"X-Request-Id": KEY}},
         "events"),
    ],
    ids=["count-200-text", "count-401", "count-404-html", "page-count-mismatch", "page-cursor", "page-nonjson",
         "page-503"],
)
def test_echoed_credentials_are_scrubbed(make_hook, echo_conn, requests_mock, caplog, capsys, url, response, call):
    requests_mock.post(url, **response)
    if url == EVENTS_URL and "X-Search_after" in response["headers"]:
        requests_mock.post(url, [response, {**response, "text": "[{}]"}])  # the same cursor twice
    hook = make_hook("echo", max_retries=1)
    with pytest.raises(JumpCloudError) as info:
        hook.count_events(T0, T1) if call == "count" else list(hook.iter_events(T0, T1, page_size=1))
    exc = info.value
    shown = [str(exc), repr(exc), *map(str, exc.args), str(getattr(exc, "server_message", "")),
             str(getattr(exc, "request_id", ""))]
    out = capsys.readouterr()
    assert not leaks(*shown, caplog.text, out.out, out.err), (shown, caplog.text)
    assert "***" in " ".join(shown) + caplog.text
    ok, message = hook.test_connection() if call == "count" else (False, "")
    assert not ok and not leaks(message)
    assert echo_conn == [KEY]  # the key itself went to Airflow's masker


def test_the_scrubber_replaces_every_form_and_longest_first() -> None:
    scrubber = SecretScrubber()
    scrubber.add("s3cr3t/+x", basic_user="client-1")
    basic = base64.b64encode(b"client-1:s3cr3t/+x").decode()
    text = f"a s3cr3t/+x b {quote('s3cr3t/+x', safe='')} c {quote_plus('s3cr3t/+x')} d {basic} e"
    assert scrubber.scrub(text) == "a *** b *** c *** d *** e"
    assert scrubber.scrub("nothing here") == "nothing here"
    assert SecretScrubber().scrub("s3cr3t") == "s3cr3t"  # nothing registered, nothing replaced
