"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

_PKG = "airflow_provider_jumpcloud"


def get_provider_info() -> dict[str, Any]:
    """Return the provider info: package, hooks, operators and the ``jumpcloud`` connection form."""
    from airflow_provider_jumpcloud import __version__

    return {
        "package-name": "airflow-provider-jumpcloud",
        "name": "JumpCloud",
        "description": (
            "JumpCloud Directory Insights events to ECS documents, quality-checked, into Elasticsearch."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "JumpCloud",
                "external-doc-url": "https://docs.jumpcloud.com/api/insights/directory/1.0/index.html",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "JumpCloud", "python-modules": [f"{_PKG}.hooks.jumpcloud"]}],
        "operators": [
            {
                "integration-name": "JumpCloud",
                "python-modules": [
                    f"{_PKG}.operators.fetch",
                    f"{_PKG}.operators.mapping",
                    f"{_PKG}.operators.quality",
                    f"{_PKG}.operators.load",
                ],
            }
        ],
        "connection-types": [
            {
                "connection-type": "jumpcloud",
                "hook-class-name": f"{_PKG}.hooks.jumpcloud.JumpCloudHook",
                "hook-name": "JumpCloud",
                "conn-fields": {
                    "region": {
                        "label": "Region",
                        "description": "JumpCloud region of the organisation; ignored when Base URL is set.",
                        "schema": {"type": "string", "enum": ["us", "eu", "in"], "default": "us"},
                    },
                    "org_id": {
                        "label": "Organization ID(s)",
                        "description": "x-org-id for MSP admins; several ids, comma-separated.",
                        "schema": {"type": ["string", "null"], "default": None},
                    },
                    "provider_id": {
                        "label": "Provider ID",
                        "description": "x-provider-id, only to read Multi-Tenant Portal events.",
                        "schema": {"type": ["string", "null"], "default": None},
                    },
                    "timeout": {
                        "label": "Request timeout (s)",
                        "description": "Seconds to wait for one API response.",
                        "schema": {"type": ["number", "null"], "minimum": 1, "default": 60},
                    },
                    "verify": {
                        "label": "Verify TLS",
                        "description": "Verify the API's TLS certificate (turning it off logs a warning).",
                        "schema": {"type": ["boolean", "null"], "default": True},
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login"],
                    "relabeling": {"password": "API key", "host": "Base URL (overrides region)"},
                    "placeholders": {
                        "host": "https://api.jumpcloud.com",
                        "password": "JumpCloud administrator API key",
                    },
                },
            }
        ],
    }
