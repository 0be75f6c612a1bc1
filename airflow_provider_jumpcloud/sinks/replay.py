"""Replay ``_bulk`` NDJSON files written by the file sink into an Elasticsearch cluster.

Usage::

    ES_API_KEY=... python -m airflow_provider_jumpcloud.sinks.replay \\
        --es-url https://es.example.com:9200 --api-key-env ES_API_KEY staging/bulk/*.ndjson

It installs the index template and creates each data stream (idempotent), then loads every file with
the same code as the Airflow task: documents already present count as such (409), rejections go to
``<file>.dead-letter.ndjson``. Credentials come only from environment variables, never from arguments.
The client is built by the Elasticsearch provider's ``ElasticsearchPythonHook``, so its
``[elasticsearch] es_compat_with`` setting (``AIRFLOW__ELASTICSEARCH__ES_COMPAT_WITH=8`` for an 8.x
cluster; ``--es-major 8`` sets it for this process) picks the ``compatible-with`` headers.
Exit status: 0 when done with at most ``--max-dead-letters`` dead letters, 1 otherwise, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_jumpcloud.sinks.elasticsearch import (
    DEFAULT_CHUNK_SIZE,
    bulk_load,
    client_options,
    configure_client,
    ensure_data_stream,
    install_templates,
)
from airflow_provider_jumpcloud.sinks.files import iter_bulk_file

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_jumpcloud.sinks.replay", description=__doc__.splitlines()[0]
    )
    parser.add_argument("files", nargs="+", type=Path, help="bulk NDJSON files (staging/bulk/*.ndjson)")
    parser.add_argument("--es-url", required=True, help="cluster URL, e.g. https://es:9200")
    parser.add_argument("--api-key-env", help="name of the environment variable holding an API key")
    parser.add_argument("--user", help="basic-auth user (password from --password-env)")
    parser.add_argument("--password-env", default="ES_PASSWORD", help="variable holding the password")
    parser.add_argument("--ca-certs", help="CA bundle to verify the cluster's certificate")
    parser.add_argument("--insecure", action="store_true", help="do not verify TLS certificates (warns)")
    parser.add_argument("--es-major", type=int, help="server major version for compat headers (8 or 9); "
                        "sets AIRFLOW__ELASTICSEARCH__ES_COMPAT_WITH for this process")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE)
    parser.add_argument("--max-retries", type=int, default=3, help="retries of 429-rejected documents")
    parser.add_argument("--max-dead-letters", type=int, default=0)
    parser.add_argument("--skip-templates", action="store_true", help="do not install templates/streams")
    parser.add_argument("--dead-letter-dir", type=Path, help="folder for dead letters (default: beside)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the replay; print one JSON summary line per file and a total."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            print(f"environment variable {args.api_key_env} is empty or unset", file=sys.stderr)
            return 2
    basic_auth = None
    if args.user:
        password = os.environ.get(args.password_env)
        if password is None:
            print(f"environment variable {args.password_env} is unset", file=sys.stderr)
            return 2
        basic_auth = (args.user, password)
    hosts, kwargs = client_options(
        args.es_url, api_key=api_key, basic_auth=basic_auth, ca_certs=args.ca_certs, verify_certs=not args.insecure
    )
    client = configure_client(provider_client(hosts, kwargs, es_major=args.es_major))
    if not args.skip_templates:
        install_templates(client)
    streams: set[str] = set()
    total = {"read": 0, "indexed": 0, "already_present": 0, "dead_lettered": 0}
    for path in args.files:
        items = _ensure_streams(client, iter_bulk_file(path), streams, skip=args.skip_templates)
        folder = args.dead_letter_dir or path.parent
        dead = folder / f"{path.name.removesuffix('.ndjson')}.dead-letter.ndjson"
        result = bulk_load(
            client,
            items,
            data_stream=_first_stream(path),
            dead_letter_path=dead,
            chunk_size=args.chunk_size,
            max_retries=args.max_retries,
        )
        for key, value in result.counts().items():
            total[key] += value
        print(json.dumps({"file": str(path), **result.counts(), "dead_letter_path": result.dead_letter_path}))
    print(json.dumps({"total": total}))
    return 0 if total["dead_lettered"] <= args.max_dead_letters else 1


def provider_client(hosts: list[str], kwargs: dict[str, Any], *, es_major: int | None = None) -> Elasticsearch:
    """Build the client with the Elasticsearch provider's hook (its es_compat_with applies).

    ``es_major`` stands in for ``AIRFLOW__ELASTICSEARCH__ES_COMPAT_WITH`` while the client is built (the
    provider reads the setting then), leaving the process environment as it was.
    """
    from airflow.providers.elasticsearch.hooks.elasticsearch import ElasticsearchPythonHook

    name = "AIRFLOW__ELASTICSEARCH__ES_COMPAT_WITH"
    before = os.environ.get(name)
    if es_major is not None:
        os.environ[name] = str(int(es_major))
    try:
        return ElasticsearchPythonHook(hosts=hosts, es_conn_args=kwargs).get_conn
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _first_stream(path: Path) -> str:
    for index, _doc_id, _doc, _size in iter_bulk_file(path):
        return index
    return ""


def _ensure_streams(client: object, items: object, seen: set[str], *, skip: bool) -> object:
    for item in items:  # type: ignore[attr-defined]
        if not skip and item[0] not in seen:
            ensure_data_stream(client, item[0])  # type: ignore[arg-type]
            seen.add(item[0])
        yield item


if __name__ == "__main__":
    sys.exit(main())
