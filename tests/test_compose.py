"""docker-compose stays true: its settings are ones the code and Airflow read, its services the README's."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_UID = "50000"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def _environments(compose: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Service name -> the environment it sets (the YAML anchors resolved)."""
    envs = {}
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        envs[name] = {str(k): str(v) for k, v in env.items()}
    return envs


def _names_the_code_reads() -> set[str]:
    """``JUMPCLOUD_*`` names used as whole string constants (not docstrings) in the package and the DAGs."""
    names: set[str] = set()
    files = [*(ROOT / "airflow_provider_jumpcloud").rglob("*.py"), *(ROOT / "dags").glob("*.py")]
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                    and re.fullmatch(r"JUMPCLOUD_[A-Z0-9_]+", node.value)):
                names.add(node.value)
    return names


def test_every_jumpcloud_variable_the_compose_file_sets_is_read_by_the_code(compose: dict[str, Any]) -> None:
    read = _names_the_code_reads()
    assert {"JUMPCLOUD_STAGING_ROOT", "JUMPCLOUD_RETENTION_DAYS"} <= read  # the scan finds what bundle.py reads
    set_by_compose = {(service, key) for service, env in _environments(compose).items() for key in env
                      if key.startswith("JUMPCLOUD_")}
    assert set_by_compose, "the compose file sets no JUMPCLOUD_ variable"
    unread = sorted(f"{key} (service {service})" for service, key in set_by_compose if key not in read)
    assert not unread, f"docker-compose.yaml sets variables no code reads: {unread}"


def test_every_airflow_setting_names_a_real_config_option(compose: dict[str, Any]) -> None:
    from airflow.configuration import conf

    # Core and installed providers' options with their descriptions. conf.has_option() is no test here: it
    # is false for real options without a default (simple_auth_manager_passwords_file) and true for any
    # AIRFLOW__X__Y set in the environment.
    options = conf.configuration_description
    checked = 0
    for service, env in _environments(compose).items():
        for key in env:
            if not key.startswith("AIRFLOW__"):
                continue
            section, option = (part.lower() for part in key[len("AIRFLOW__"):].split("__", 1))
            known = options.get(section, {}).get("options", {})
            assert option in known, f"{key} (service {service}) is not an Airflow option [{section}] {option}"
            checked += 1
    assert checked >= 10


def _readme_compose_services() -> list[str]:
    """The services the README's docker-compose section lists (its table's first column)."""
    text = (ROOT / "README.md").read_text()
    match = re.search(r"^## docker-compose\n(.*?)(?=^## )", text, flags=re.S | re.M)
    assert match, "README.md has no '## docker-compose' section"
    services = re.findall(r"^\|\s*`([a-z0-9-]+)`", match.group(1), flags=re.M)
    assert services, "README.md's docker-compose section lists no services (a table of `service` | what it runs)"
    return services


def test_services_match_the_readme(compose: dict[str, Any]) -> None:
    listed = _readme_compose_services()
    assert len(listed) == len(set(listed)), f"README lists a service twice: {listed}"
    assert set(listed) == set(compose["services"]), (
        f"README lists {sorted(set(listed) - set(compose['services']))} that compose lacks and omits "
        f"{sorted(set(compose['services']) - set(listed))}"
    )


def test_staging_volume_is_writable_by_the_airflow_user(compose: dict[str, Any]) -> None:
    services = compose["services"]
    staging_root = _environments(compose)["airflow-worker"]["JUMPCLOUD_STAGING_ROOT"]
    default_root = re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", staging_root)  # compose's ${VAR:-default}
    mounts = {}
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            mounts.setdefault(name, {})[target] = source
    workers_mount = mounts["airflow-worker"].get(default_root)
    assert workers_mount and not workers_mount.startswith((".", "/")), "staging is a named volume on the workers"
    for name in ("airflow-worker", "airflow-scheduler", "airflow-init"):
        assert mounts[name].get(default_root) == workers_mount, f"{name} mounts the staging volume"
        assert services[name]["user"].split(":")[0] in (AIRFLOW_UID, "0"), name
    assert services["airflow-worker"]["user"].split(":")[0] == AIRFLOW_UID
    # An existing volume: the init service (as root) hands its mount point to the airflow user.
    init = services["airflow-init"]
    assert init["user"].split(":")[0] == "0"
    assert re.search(rf"chown {AIRFLOW_UID}(:\d+)? {re.escape(default_root)}(\s|&|$)", " ".join(init["command"]))
    # A new volume: Docker copies the image's mount point, which the image creates owned by the airflow user.
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert re.search(rf"mkdir -p {re.escape(default_root)}\b", dockerfile)
    assert re.search(rf"chown {AIRFLOW_UID}(:\d+)? {re.escape(default_root)}\b", dockerfile)
    assert dockerfile.rstrip().splitlines()[-1].strip() in ("USER airflow", f"USER {AIRFLOW_UID}")
