"""get_provider_info() against Airflow's own schemas, and registration when the package is installed."""

from __future__ import annotations

import importlib
import json
from importlib.metadata import entry_points
from importlib.resources import files

import jsonschema
import pytest

from airflow_provider_jumpcloud import __version__
from airflow_provider_jumpcloud.get_provider_info import get_provider_info

ENTRY_POINT = "airflow_provider_jumpcloud.get_provider_info:get_provider_info"


def schema(name: str) -> dict:
    return json.loads((files("airflow") / name).read_text())


def installed() -> bool:
    return any(ep.value == ENTRY_POINT for ep in entry_points(group="apache_airflow_provider"))


def test_runtime_schema():
    jsonschema.validate(get_provider_info(), schema("provider_info.schema.json"))


def test_connection_types_against_the_strict_schema():
    items = schema("provider.yaml.schema.json")["properties"]["connection-types"]["items"]
    connection_types = get_provider_info()["connection-types"]
    assert [ct["connection-type"] for ct in connection_types] == ["jumpcloud"]
    for ct in connection_types:
        jsonschema.validate(ct, items)


def test_strict_schema_catches_a_broken_field():
    """The strict check is not vacuous: a field without a label fails it."""
    items = schema("provider.yaml.schema.json")["properties"]["connection-types"]["items"]
    broken = json.loads(json.dumps(get_provider_info()["connection-types"][0]))
    del broken["conn-fields"]["region"]["label"]
    with pytest.raises(jsonschema.ValidationError, match="label"):
        jsonschema.validate(broken, items)


def test_identity_and_form():
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-jumpcloud"
    assert info["versions"] == [__version__]
    (ct,) = info["connection-types"]
    assert ct["hook-class-name"] == "airflow_provider_jumpcloud.hooks.jumpcloud.JumpCloudHook"
    assert set(ct["conn-fields"]) == {"region", "org_id", "provider_id", "token_url", "timeout", "request_deadline",
                                      "retry_deadline", "max_retries", "verify"}
    assert ct["conn-fields"]["region"]["schema"]["enum"] == ["us", "eu", "in"]
    assert ct["ui-field-behaviour"]["relabeling"]["password"] == "API key or client secret"


def test_hook_class_matches_the_provider_info():
    info = get_provider_info()
    (ct,) = info["connection-types"]
    module, _, name = ct["hook-class-name"].rpartition(".")
    hook = getattr(importlib.import_module(module), name)
    assert hook.conn_type == ct["connection-type"] and hook.hook_name == ct["hook-name"]
    assert module in info["hooks"][0]["python-modules"]
    from airflow_provider_jumpcloud.hooks.jumpcloud import REGION_URLS

    assert list(REGION_URLS) == ct["conn-fields"]["region"]["schema"]["enum"]


def test_providers_manager_knows_the_provider():
    if not installed():
        pytest.skip("airflow-provider-jumpcloud is not pip-installed, so its entry point is not registered")
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-jumpcloud" in manager.providers
    assert manager.field_behaviours["jumpcloud"]["relabeling"]["password"] == "API key or client secret"
    assert "extra__jumpcloud__org_id" in manager.connection_form_widgets


def test_providers_manager_does_not_know_it_when_not_installed():
    if installed():
        pytest.skip("airflow-provider-jumpcloud is installed; the registered case is tested instead")
    from airflow.providers_manager import ProvidersManager

    assert "airflow-provider-jumpcloud" not in ProvidersManager().providers
