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
                    f"{_PKG}.operators.rollup",
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
                    "token_url": {
                        "label": "Token URL (service accounts)",
                        "description": (
                            "OAuth token endpoint for a service account (login = client id); empty: the "
                            "region's (us: admin-oauth.id.jumpcloud.com, eu: admin-oauth.id.eu.jumpcloud.com)."
                        ),
                        "schema": {"type": ["string", "null"], "format": "url", "default": None},
                    },
                    "timeout": {
                        "label": "Read timeout (s)",
                        "description": "Seconds to connect, and to wait for any byte of an answer.",
                        "schema": {"type": ["number", "null"], "minimum": 1, "default": 60},
                    },
                    "request_deadline": {
                        "label": "Request deadline (s)",
                        "description": "Seconds one attempt may take in all, headers and body (slow bodies are cut).",
                        "schema": {"type": ["number", "null"], "minimum": 1, "default": 300},
                    },
                    "retry_deadline": {
                        "label": "Retry deadline (s)",
                        "description": "Seconds one page or count may take over all its attempts and back-off.",
                        "schema": {"type": ["number", "null"], "minimum": 1, "default": 1200},
                    },
                    "max_retries": {
                        "label": "Max retries",
                        "description": "Retries of one page or count on 429, 5xx, resets, timeouts and cut bodies.",
                        "schema": {"type": ["integer", "null"], "minimum": 0, "default": 8},
                    },
                    "verify": {
                        "label": "Verify TLS",
                        "description": "Verify the API's TLS certificate (turning it off logs a warning).",
                        "schema": {"type": ["boolean", "null"], "default": True},
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "login": "Client ID (service account; empty for an API key)",
                        "password": "API key or client secret",
                        "host": "Base URL (overrides region)",
                    },
                    "placeholders": {
                        "host": "https://api.jumpcloud.com",
                        "login": "service account client id, or empty",
                        "password": "client secret (with a client id), else an administrator API key",
                    },
                },
            }
        ],
    }
