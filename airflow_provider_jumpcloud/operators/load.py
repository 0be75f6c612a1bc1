"""Load one mapped window into Elasticsearch (or into ``_bulk`` files when no cluster is configured)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_jumpcloud.exceptions import BulkLoadError, JumpCloudConfigError
from airflow_provider_jumpcloud.operators.storage import storage_path
from airflow_provider_jumpcloud.sinks.datastream import data_stream_name
from airflow_provider_jumpcloud.sinks.result import LoadResult
from airflow_provider_jumpcloud.staging import StagingLayout, manifest, path_str, write_json
from airflow_provider_jumpcloud.timestamps import format_millis
from airflow_provider_jumpcloud.windows import Window

if TYPE_CHECKING:
    from airflow.sdk import Context
    from elasticsearch import Elasticsearch

SINKS = ("auto", "elasticsearch", "file")


def resolve_sink(sink: str, elasticsearch_conn_id: str | None) -> str:
    """Return ``elasticsearch`` or ``file``: ``auto`` means Elasticsearch when a connection id is given."""
    if sink not in SINKS:
        raise JumpCloudConfigError(f"sink must be one of {', '.join(SINKS)}, got {sink!r}")
    if sink == "auto":
        return "elasticsearch" if elasticsearch_conn_id else "file"
    if sink == "elasticsearch" and not elasticsearch_conn_id:
        raise JumpCloudConfigError("sink='elasticsearch' needs an elasticsearch_conn_id")
    return sink


class JumpCloudEcsToElasticsearchOperator(BaseOperator):
    """Bulk-load a mapped window into the ``logs-jumpcloud.events-<namespace>`` data stream, idempotently.

    Documents are created with the mapper's ``_id``: a re-run counts them as already present. Rejected
    documents go to the window's dead-letter file; the task fails when there are more than
    ``max_dead_letters``. Without a connection (or with ``sink="file"``) it writes ``_bulk`` NDJSON.

    :param manifest: the mapped-window manifest from XCom (``window``, ``ecs_path``, ``counts``) (templated)
    :param staging_root: staging root: a local path or any ObjectStoragePath URL (templated)
    :param namespace: data stream namespace (templated)
    :param elasticsearch_conn_id: connection of type ``elasticsearch``; None -> file sink (templated)
    :param sink: ``auto``, ``elasticsearch`` or ``file`` (templated)
    :param max_dead_letters: how many rejected documents are tolerated before the task fails
    :param chunk_size: documents per ``_bulk`` request
    :param max_retries: retries of 429-rejected documents and of 429/502/503/504 requests
    :param initial_backoff: first wait (seconds) before retrying rejected documents; doubles each time
    :param es_major: server major version for the compatible-with headers, when the provider's
        ``[elasticsearch] es_compat_with`` is not set (8 for an 8.x cluster)
    :param install_templates: install/refresh the index template and create the data stream first
    :param timestamp_fallback: give documents without ``@timestamp`` (error documents) the window start,
        since data streams refuse documents without one
    """

    template_fields: Sequence[str] = (
        "manifest",
        "staging_root",
        "namespace",
        "elasticsearch_conn_id",
        "sink",
    )
    ui_color = "#fdf2e3"

    def __init__(
        self,
        *,
        manifest: dict[str, Any],
        staging_root: str,
        namespace: str = "default",
        elasticsearch_conn_id: str | None = None,
        sink: str = "auto",
        max_dead_letters: int = 0,
        chunk_size: int = 500,
        max_retries: int = 3,
        initial_backoff: float = 2.0,
        es_major: int | None = None,
        install_templates: bool = True,
        timestamp_fallback: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.manifest = manifest
        self.staging_root = staging_root
        self.namespace = namespace
        self.elasticsearch_conn_id = elasticsearch_conn_id
        self.sink = sink
        self.max_dead_letters = max_dead_letters
        self.chunk_size = chunk_size
        self.max_retries = max_retries
        self.initial_backoff = initial_backoff
        self.es_major = es_major
        self.install_templates = install_templates
        self.timestamp_fallback = timestamp_fallback

    def execute(self, context: Context) -> dict[str, Any]:
        """Load the window, write the summary, fail above the dead-letter threshold; return a manifest."""
        window = Window.from_dict(self.manifest["window"])
        layout = StagingLayout.at(storage_path(self.staging_root))
        ecs_path = storage_path(self.manifest["ecs_path"])
        fallback = format_millis(window.start_ns) if self.timestamp_fallback else None
        try:
            sink = resolve_sink(self.sink, self.elasticsearch_conn_id)
            stream = data_stream_name(self.namespace)
            if sink == "file":
                from airflow_provider_jumpcloud.sinks.files import write_bulk_file

                result = write_bulk_file(
                    ecs_path,
                    layout.bulk(window),
                    namespace=self.namespace,
                    fallback_timestamp=fallback,
                    prestamped=bool(self.manifest.get("stamped")),
                )
            else:
                result = self._load_es(ecs_path, stream, layout.dead_letter(window), fallback)
        except JumpCloudConfigError as err:
            raise AirflowFailException(str(err)) from err
        self.log.info("Loaded %s via %s into %s: %s", window, sink, stream, result.counts())
        expected = _expected_documents(self.manifest)
        if expected is not None and expected != result.read:
            raise RuntimeError(
                f"{self.manifest['ecs_path']} holds {result.read} documents, mapping wrote {expected}"
            )
        summary_path = layout.load_summary(window)
        write_json(summary_path, {"window": window.as_dict(), "counts": result.counts(), **result.as_dict()})
        if result.dead_lettered > self.max_dead_letters:
            err = BulkLoadError(
                f"{result.dead_lettered} document(s) of {window} were rejected by Elasticsearch "
                f"(max_dead_letters={self.max_dead_letters}); see the dead-letter file "
                f"{result.dead_letter_path} (reasons: {result.dead_letter_reasons})",
                items=result.dead_lettered,
                dead_letter_path=result.dead_letter_path,
            )
            raise AirflowFailException(str(err)) from err
        return manifest(
            "load",
            window,
            sink=sink,
            data_stream=stream,
            ecs_path=self.manifest["ecs_path"],
            bulk_path=result.output_path,
            dead_letter_path=result.dead_letter_path,
            summary_path=path_str(summary_path),
            counts={**(self.manifest.get("counts") or {}), **result.counts()},
        )

    def _load_es(self, ecs_path: Any, stream: str, dead_letter_path: Any, fallback: str | None) -> LoadResult:
        """Get a client from the Elasticsearch provider, install templates, load; auth errors fail at once."""
        from elasticsearch import AuthenticationException, AuthorizationException, BadRequestError

        from airflow_provider_jumpcloud.sinks import elasticsearch as es_sink

        client = self._client()
        try:
            if self.install_templates:
                es_sink.install_templates(client)
                es_sink.ensure_data_stream(client, stream)
            return es_sink.load_window(
                client,
                ecs_path,
                namespace=self.namespace,
                dead_letter_path=dead_letter_path,
                fallback_timestamp=fallback,
                chunk_size=self.chunk_size,
                max_retries=self.max_retries,
                initial_backoff=self.initial_backoff,
            )
        except (AuthenticationException, AuthorizationException) as err:
            raise AirflowFailException(
                f"Elasticsearch refused the credentials of connection {self.elasticsearch_conn_id!r}: "
                f"HTTP {err.status_code} {err.message}"
            ) from err
        except BadRequestError as err:
            if err.message != "media_type_header_exception":
                raise
            raise AirflowFailException(
                "Elasticsearch refused the client's compatible-with headers: the cluster's major version "
                "differs from the client's. For an 8.x cluster set es_major=8 or "
                "AIRFLOW__ELASTICSEARCH__ES_COMPAT_WITH=8."
            ) from err

    def _client(self) -> Elasticsearch:
        """Build the client through ``ElasticsearchSQLHook`` (connection extras are client options)."""
        from airflow.providers.common.compat.sdk import conf
        from airflow.providers.elasticsearch.hooks.elasticsearch import ElasticsearchSQLHook

        from airflow_provider_jumpcloud.sinks.elasticsearch import configure_client

        provider_compat = (conf.get("elasticsearch", "es_compat_with", fallback=None) or "").strip()
        if self.es_major is not None and provider_compat and int(provider_compat) != int(self.es_major):
            raise JumpCloudConfigError(
                f"es_major={self.es_major} contradicts [elasticsearch] es_compat_with={provider_compat}"
            )
        client = ElasticsearchSQLHook(elasticsearch_conn_id=self.elasticsearch_conn_id).get_conn().es
        return configure_client(
            client,
            es_major=None if provider_compat else self.es_major,
            max_retries=self.max_retries,
            backoff_base=min(self.initial_backoff, 1.0),
            backoff_cap=30.0,
        )


def _expected_documents(mapped: dict[str, Any]) -> int | None:
    """Documents the mapper wrote (mapped + error documents), when the manifest says."""
    counts = mapped.get("counts") or {}
    if "mapped" in counts and "error_documents" in counts:
        return int(counts["mapped"]) + int(counts["error_documents"])
    return None
