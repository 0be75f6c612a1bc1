"""Installing templates and data streams: idempotent, and never clobbering a newer or foreign template."""

from __future__ import annotations

import logging

import pytest
from elasticsearch import BadRequestError

from airflow_provider_jumpcloud.sinks.elasticsearch import ensure_data_stream, install_templates
from airflow_provider_jumpcloud.spec.quality import build_quality_templates
from airflow_provider_jumpcloud.spec.templates import (
    INDEX_TEMPLATE_NAME,
    MAPPINGS_COMPONENT,
    SETTINGS_COMPONENT,
    build_templates,
)


def puts(double):
    return [r.path for r in double.requests if r.method == "PUT" and "template" in r.path]


def test_first_install_puts_components_then_index_template(client, double):
    result = install_templates(client)
    assert result.action == "installed"
    assert puts(double) == [
        "/_component_template/jumpcloud-events%40mappings",
        "/_component_template/jumpcloud-events%40settings",
        "/_index_template/logs-jumpcloud.events",
    ]
    stored = double.index_templates[INDEX_TEMPLATE_NAME]
    assert stored == build_templates().index_template
    assert set(double.component_templates) == {MAPPINGS_COMPONENT, SETTINGS_COMPONENT}


def test_second_install_is_a_no_op(client, double):
    install_templates(client)
    before = len(puts(double))
    again = install_templates(client)
    assert again.action == "unchanged"
    assert len(puts(double)) == before


def test_older_version_of_ours_is_replaced(client, double):
    old = build_templates(version="0.0.1", total_fields_limit=1000)
    install_templates(client, old)
    assert double.index_templates[INDEX_TEMPLATE_NAME]["_meta"]["version"] == "0.0.1"
    result = install_templates(client)
    assert (result.action, result.installed_version) == ("installed", "0.0.1")
    assert double.index_templates[INDEX_TEMPLATE_NAME]["_meta"]["spec_hash"] == build_templates().spec_hash


def test_same_version_with_a_different_spec_is_replaced(client, double):
    install_templates(client, build_templates(ignore_malformed=True))
    assert install_templates(client).action == "installed"


def test_newer_version_is_kept_and_logged(client, double, caplog):
    newer = build_templates(version="99.0.0", total_fields_limit=5000)
    install_templates(client, newer)
    caplog.set_level(logging.WARNING)
    result = install_templates(client)
    assert (result.action, result.installed_version) == ("kept_newer", "99.0.0")
    assert double.index_templates[INDEX_TEMPLATE_NAME]["_meta"]["version"] == "99.0.0"
    settings = double.component_templates[SETTINGS_COMPONENT]["template"]["settings"]
    assert settings["index"]["mapping"]["total_fields"]["limit"] == 5000
    assert "newer than ours" in caplog.text


def test_foreign_template_is_kept_unless_forced(client, double, caplog):
    fleet = {
        "index_patterns": ["logs-jumpcloud.events-*"],
        "data_stream": {},
        "priority": 200,
        "_meta": {"managed_by": "fleet", "managed": True, "package": {"name": "jumpcloud"}},
    }
    client.indices.put_index_template(name=INDEX_TEMPLATE_NAME, body=fleet)
    caplog.set_level(logging.WARNING)
    assert install_templates(client).action == "kept_foreign"
    assert double.index_templates[INDEX_TEMPLATE_NAME]["_meta"]["managed_by"] == "fleet"
    assert "managed by fleet" in caplog.text
    assert install_templates(client, force=True).action == "installed"
    assert double.index_templates[INDEX_TEMPLATE_NAME]["_meta"]["managed_by"] == "airflow-provider-jumpcloud"


def test_data_stream_creation_is_idempotent(client, double):
    install_templates(client)
    assert ensure_data_stream(client, "logs-jumpcloud.events-default") is True
    assert ensure_data_stream(client, "logs-jumpcloud.events-default") is False
    assert double.is_data_stream("logs-jumpcloud.events-default")
    info = client.indices.get_data_stream(name="logs-jumpcloud.events-default")
    assert info["data_streams"][0]["template"] == INDEX_TEMPLATE_NAME


def test_data_stream_without_template_fails(client):
    with pytest.raises(BadRequestError):
        ensure_data_stream(client, "logs-jumpcloud.events-default")


def test_missing_custom_component_is_tolerated_but_other_missing_ones_are_not(client):
    install_templates(client)  # composed_of includes the optional, absent @custom component
    body = dict(build_templates().index_template, composed_of=["does-not-exist"])
    body.pop("ignore_missing_component_templates")
    with pytest.raises(BadRequestError):
        client.indices.put_index_template(name="other", body=body)


def test_a_newer_template_without_our_lifecycle_is_not_clobbered(client, double, caplog):
    """A user's newer template (here: ILM instead of the data stream lifecycle) survives our install."""
    newer = build_templates(version="99.0.0", lifecycle_policy="company-logs")
    install_templates(client, newer)
    caplog.set_level(logging.WARNING)
    assert install_templates(client, build_templates(data_retention="30d")).action == "kept_newer"
    settings = double.component_templates[SETTINGS_COMPONENT]["template"]
    assert "lifecycle" not in settings and settings["settings"]["index"]["lifecycle"] == {"name": "company-logs"}
    ensure_data_stream(client, "logs-jumpcloud.events-default")
    info = client.indices.get_data_stream(name="logs-jumpcloud.events-default")["data_streams"][0]
    assert info["ilm_policy"] == "company-logs" and "lifecycle" not in info


def test_an_older_template_of_ours_gains_the_lifecycle(client, double):
    install_templates(client, build_templates(version="0.0.1", lifecycle_policy="old-policy"))
    assert install_templates(client).action == "installed"
    ensure_data_stream(client, "logs-jumpcloud.events-default")
    info = client.indices.get_data_stream(name="logs-jumpcloud.events-default")["data_streams"][0]
    assert info["lifecycle"] == {"enabled": True, "data_retention": "90d"} and "ilm_policy" not in info


def test_quality_templates_install_next_to_the_events_ones(client, double):
    install_templates(client)
    assert install_templates(client, build_quality_templates()).action == "installed"
    assert set(double.index_templates) == {"logs-jumpcloud.events", "logs-jumpcloud.quality"}
    ensure_data_stream(client, "logs-jumpcloud.quality-default")
    assert double.indices["logs-jumpcloud.quality-default"].template == "logs-jumpcloud.quality"
    assert install_templates(client, build_quality_templates()).action == "unchanged"
