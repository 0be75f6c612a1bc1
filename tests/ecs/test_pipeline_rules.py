"""Pipeline rules one by one: error documents, deliberate differences, tags, outcome, related, removal."""

from __future__ import annotations

import orjson
import pytest

from airflow_provider_jumpcloud.ecs import map_event
from tests.ecs.murmur_reference import es_murmur_id

TS = "2023-06-15T14:48:36.495420839Z"


def ev(**fields):
    base = {"id": "648b24c48eae32f4adabc27e", "timestamp": TS}
    base.update(fields)
    return orjson.dumps(base)


def fp_id(id_="648b24c48eae32f4adabc27e", ts=TS):
    return es_murmur_id(b"\x00" + id_.encode() + b"\x00" + ts.encode())


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"not json", "not valid JSON"),
        (b'{"id": "1",', "not valid JSON"),
        (b"[1, 2]", "missing json object in input document"),
        (b'"just a string"', "missing json object in input document"),
        (b"null", "missing json object in input document"),
        (b"{}", "missing json object in input document"),
        (b'{"a": null, "b": "", "c": {"d": []}}', "missing json object in input document"),
        (b"   ", "missing json object in input document"),
        (b'{"id": "\xff\xfe"}', "not valid UTF-8"),
    ],
)
def test_error_documents_like_on_failure(raw, needle):
    doc_id, doc = map_event(raw, tags=["forwarded"])
    assert doc["event"]["kind"] == "pipeline_error"
    assert doc["event"]["original"] == raw.decode("utf-8", "replace")
    assert doc["tags"] == ["forwarded", "preserve_original_event"]
    assert isinstance(doc["error"]["message"], list) and len(doc["error"]["message"]) == 1
    assert needle in doc["error"]["message"][0]
    assert doc["ecs"] == {"version": "8.11.0"}
    assert "jumpcloud" not in doc and "@timestamp" not in doc
    assert doc_id == "raw-" + es_murmur_id(raw)


def test_error_document_does_not_duplicate_the_preserve_tag():
    _, doc = map_event(b"nope", tags=["preserve_original_event"])
    assert doc["tags"] == ["preserve_original_event"]
    _, doc = map_event(b"nope")
    assert doc["tags"] == ["preserve_original_event"]


def test_failure_after_earlier_steps_keeps_what_was_produced():
    raw = ev(**{"@version": "1", "version": "x", "client_ip": "1.2.3.4", "event_type": "sso_auth"})
    doc_id, doc = map_event(raw)
    assert doc_id == fp_id()
    assert doc["event"]["kind"] == "pipeline_error"
    assert doc["error"]["message"] == ["[rename] field [jumpcloud.event.version] already exists"]
    # Steps 1-16 ran: timestamp, client.ip, categorization, event.id; later ones did not.
    assert doc["@timestamp"] == "2023-06-15T14:48:36.495Z"
    assert doc["client"] == {"ip": "1.2.3.4"}
    assert doc["event"]["category"] == ["authentication"] and doc["event"]["id"] == "648b24c48eae32f4adabc27e"
    assert "outcome" not in doc["event"] and "action" not in doc["event"]
    ev_out = doc["jumpcloud"]["event"]
    assert ev_out["@version"] == "1" and ev_out["id"] == "648b24c48eae32f4adabc27e"  # nothing removed
    assert doc["event"]["original"] == raw.decode()


def test_fingerprint_failure_on_a_big_integer_id():
    raw = b'{"id": 9223372036854775808, "timestamp": "2023-01-01T00:00:00Z"}'
    doc_id, doc = map_event(raw)
    assert doc["event"]["kind"] == "pipeline_error"
    assert "BigInteger" in doc["error"]["message"][0]
    assert doc["jumpcloud"]["event"]["id"] == 9223372036854775808 and "@timestamp" not in doc
    assert doc_id == "raw-" + es_murmur_id(raw)


def test_protect_device_path_quirk():
    _, doc = map_event(ev(jumpcloud_protect_device={"ip": "10.1.1.1"}, src_ip="10.2.2.2"))
    assert doc["related"]["ip"] == ["10.1.1.1", "10.2.2.2"]
    _, doc = map_event(ev(auth_context={"jumpcloud_protect_device": {"ip": "10.1.1.1"}}))
    assert "related" not in doc  # the pipeline's path does not match where JumpCloud puts it
    _, doc = map_event(ev(jumpcloud_protect_device="phone", success=True))
    assert doc["event"]["kind"] == "pipeline_error" and doc["event"]["outcome"] == "success"
    assert "jumpcloud_protect_device" in doc["error"]["message"][0]


def test_invalid_ip_keeps_the_event():
    raw = ev(client_ip="1.2.3.999", src_ip="10.0.0.1", initiated_by={"username": "bob"})
    doc_id, doc = map_event(raw)
    assert doc_id == fp_id()
    assert "kind" not in doc["event"] and "tags" not in doc and "original" not in doc["event"]
    assert "client" not in doc
    assert doc["jumpcloud"]["event"]["client_ip"] == "1.2.3.999"  # kept although duplicates are removed
    assert "src_ip" not in doc["jumpcloud"]["event"]
    assert doc["source"] == {"ip": "10.0.0.1", "user": {"name": "bob"}}
    assert doc["related"] == {"ip": ["10.0.0.1"], "user": ["bob"]}
    [message] = doc["error"]["message"]
    assert "jumpcloud.event.client_ip" in message and "'1.2.3.999' is not an IP string literal." in message


def test_non_string_ip_is_kept_too():
    _, doc = map_event(ev(src_ip=12345))
    assert "source" not in doc and doc["jumpcloud"]["event"]["src_ip"] == 12345
    assert "java.lang.Integer" in doc["error"]["message"][0]


def test_ip_text_is_kept_verbatim_like_the_convert_processor():
    _, doc = map_event(ev(client_ip="2001:DB8:0:0::1", src_ip="::ffff:1.2.3.4"))
    assert doc["client"]["ip"] == "2001:DB8:0:0::1"
    assert doc["source"]["ip"] == "::ffff:1.2.3.4" and doc["related"]["ip"] == ["::ffff:1.2.3.4"]


def test_unparseable_timestamp_keeps_the_event():
    raw = ev(timestamp="yesterday", client_ip="1.2.3.4")
    doc_id, doc = map_event(raw)
    assert doc_id == fp_id(ts="yesterday")
    assert "@timestamp" not in doc and "kind" not in doc["event"]
    assert doc["jumpcloud"]["event"]["timestamp"] == "yesterday"
    assert "unable to parse date [yesterday]" in doc["error"]["message"][0]
    assert doc["client"] == {"ip": "1.2.3.4"}


@pytest.mark.parametrize(
    ("fields", "outcome"),
    [
        ({}, "unknown"),
        ({"success": True}, "success"),
        ({"success": False}, "failure"),
        ({"sso_token_success": True}, "success"),
        ({"sso_token_success": False}, "failure"),
        ({"sso_token_success": True, "success": False}, "failure"),
        ({"sso_token_success": False, "success": True}, "success"),
        ({"success": "true"}, "unknown"),
        ({"success": 1}, "unknown"),
        ({"sso_token_success": "false"}, "unknown"),
    ],
)
def test_outcome_precedence(fields, outcome):
    assert map_event(ev(**fields))[1]["event"]["outcome"] == outcome


@pytest.mark.parametrize(
    ("event_type", "category"),
    [("ldap_bind", "authentication"), ("user_login_attempt", "authentication"),
     ("sso_auth", "authentication"),
     ("admin_login_attempt", "authentication"), ("user_password_warning_email", "iam"),
     ("user_password_reset_request", "iam"), ("user_activation_email", "iam"), ("user_unlocked", "iam"),
     ("mdm_command_result", None), ("LDAP_BIND", None)],
)
def test_categorization_table(event_type, category):
    event = map_event(ev(event_type=event_type))[1]["event"]
    assert event["action"] == event_type
    if category:
        assert event["category"] == [category] and event["type"] == ["info"]
    else:
        assert "category" not in event and "type" not in event


def test_copies_and_duplicate_removal():
    raw = ev(**{"@version": "1", "message": "hello", "username": "u1", "process_name": "p",
                "system": {"id": "s1", "hostname": "h1"}, "service": "systems",
                "initiated_by": {"id": "i", "email": "e@x", "username": "n", "type": "user"},
                "useragent": {"device": "d", "name": "n", "version": "v", "os_name": "on", "os_full": "of",
                              "os_version": "ov", "major": "1"}})
    _, doc = map_event(raw)
    assert doc["message"] == "hello" and doc["user"] == {"name": "u1"} and doc["process"] == {"name": "p"}
    assert doc["host"] == {"id": "s1", "hostname": "h1"}
    assert doc["source"] == {"user": {"id": "i", "email": "e@x", "name": "n"}}
    assert doc["user_agent"] == {"device": {"name": "d"}, "name": "n", "version": "v",
                                 "os": {"name": "on", "full": "of", "version": "ov"}}
    assert doc["event"]["module"] == "systems"
    # remove does not prune parents it empties, exactly like Elasticsearch's remove processor
    assert doc["jumpcloud"]["event"] == {"system": {}, "initiated_by": {"type": "user"}}
    _, kept = map_event(raw, tags=["preserve_duplicate_custom_fields"])
    kept_ev = kept["jumpcloud"]["event"]
    assert kept_ev["version"] == "1" and kept_ev["useragent"]["major"] == "1"
    assert kept["tags"] == ["preserve_duplicate_custom_fields"]


def test_original_only_with_the_tag_and_empty_tags_dropped():
    raw = ev(success=True)
    assert "original" not in map_event(raw)[1]["event"]
    _, doc = map_event(raw, tags=["", "preserve_original_event", "forwarded"])
    assert doc["event"]["original"] == raw.decode()
    assert doc["tags"] == ["preserve_original_event", "forwarded"]
    assert "tags" not in map_event(raw, tags=[""])[1]


def test_no_id_or_timestamp_gives_a_deterministic_raw_id():
    raw = b'{"event_type": "x", "success": true}'
    doc_id, doc = map_event(raw)
    assert doc_id == "raw-" + es_murmur_id(raw) == map_event(raw)[0]
    assert "kind" not in doc["event"]


def test_str_and_bytes_inputs_agree():
    raw = ev(client_ip="1.2.3.4", initiated_by={"username": "é"})
    assert map_event(raw) == map_event(raw.decode())
