"""No container engine runs here, so the compose file is checked by parsing it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def _substitute_defaults(text: str) -> str:
    """Resolve ``${VAR:-default}`` / ``${VAR-default}`` as compose does with VAR unset."""
    return re.sub(r"\$\{[A-Z0-9_]+:?-([^}]*)\}", r"\1", text)


def test_services_and_images(compose: dict) -> None:
    services = compose["services"]
    expected = {
        "postgres", "redis", "airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
        "airflow-triggerer", "airflow-worker", "elasticsearch", "kibana", "jumpcloud-emulator",
    }
    assert expected <= set(services)
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["elasticsearch"]["image"].startswith("docker.elastic.co/elasticsearch/elasticsearch:")
    assert services["kibana"]["image"].startswith("docker.elastic.co/kibana/kibana:")
    assert services["elasticsearch"]["environment"]["discovery.type"] == "single-node"
    for name in expected - {"postgres", "redis", "elasticsearch", "kibana"}:
        assert services[name]["image"] == "airflow-provider-jumpcloud:local", name
        assert services[name]["build"]["dockerfile"] == "docker/Dockerfile"


def test_airflow_commands_and_executor(compose: dict) -> None:
    services = compose["services"]
    assert services["airflow-apiserver"]["command"] == "api-server"
    assert services["airflow-scheduler"]["command"] == "scheduler"
    assert services["airflow-dag-processor"]["command"] == "dag-processor"
    assert services["airflow-triggerer"]["command"] == "triggerer"
    assert services["airflow-worker"]["command"] == "celery worker"
    assert services["airflow-worker"]["deploy"]["replicas"] >= 2
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert "postgres" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def test_dags_and_staging_mounted_everywhere(compose: dict) -> None:
    for name in ("airflow-scheduler", "airflow-dag-processor", "airflow-worker", "airflow-apiserver"):
        volumes = compose["services"][name]["volumes"]
        assert "./dags:/opt/airflow/dags" in volumes, name
        assert any(v.endswith(":/opt/airflow/staging") for v in volumes), name
    assert (ROOT / "dags" / "jumpcloud_events.py").exists()
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert "pip install" in dockerfile and "/opt/provider" in dockerfile
    assert "pip wheel" in dockerfile and "_flatten" in dockerfile  # the C accelerators are built and checked


def test_connections_from_environment_are_valid_json(compose: dict) -> None:
    env = compose["services"]["airflow-worker"]["environment"]
    jc = json.loads(_substitute_defaults(env["AIRFLOW_CONN_JUMPCLOUD_DEFAULT"]))
    assert jc["conn_type"] == "jumpcloud"
    assert jc["host"] == "http://jumpcloud-emulator:8099"
    assert jc["extra"]["region"] == "us"
    es = json.loads(_substitute_defaults(env["AIRFLOW_CONN_ELASTICSEARCH_DEFAULT"]))
    assert es["conn_type"] == "elasticsearch" and es["host"] == "elasticsearch"
    assert env["JUMPCLOUD_ELASTICSEARCH_CONN_ID"] == "elasticsearch_default"


def test_emulator_service_runs_the_package_module(compose: dict) -> None:
    emulator = compose["services"]["jumpcloud-emulator"]
    assert emulator["entrypoint"][:3] == ["python", "-m", "airflow_provider_jumpcloud.emulator"]
    assert "--port" in emulator["command"] and "8099" in emulator["command"]
