"""Load one mapped window into Elasticsearch (or into ``_bulk`` files when no cluster is configured)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from airflow.sdk import AssetAlias, BaseHook, BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

from airflow_provider_jumpcloud.assets import LOAD_ALIAS, PRODUCED_ASSETS, load_asset_event
from airflow_provider_jumpcloud.exceptions import BulkLoadError, JumpCloudConfigError, StagingFileError
from airflow_provider_jumpcloud.sinks.result import LoadResult
from airflow_provider_jumpcloud.spec.datastream import QUALITY_DATASET, data_stream_name
from airflow_provider_jumpcloud.spec.templates import DEFAULT_DATA_RETENTION, lifecycle_template
from airflow_provider_jumpcloud.staging import StagingLayout, as_path, manifest, path_str, read_json, write_json
from airflow_provider_jumpcloud.timestamps import format_millis
from airflow_provider_jumpcloud.windows import Window

if TYPE_CHECKING:
    from airflow.sdk import Context
    from elasticsearch import Elasticsearch

SINKS = ("auto", "elasticsearch", "file")
DEFAULT_ELASTICSEARCH_CONN_ID = "elasticsearch_default"


def connection_exists(conn_id: str) -> bool:
    """Whether Airflow knows the connection (metadata DB, secrets backend or ``AIRFLOW_CONN_<ID>``)."""
    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


def resolve_sink(
    sink: str, elasticsearch_conn_id: str | None, exists: Callable[[str], bool] = connection_exists
) -> str:
    """Return ``elasticsearch`` or ``file``: ``auto`` means Elasticsearch when the connection exists."""
    if sink not in SINKS:
        raise JumpCloudConfigError(f"sink must be one of {', '.join(SINKS)}, got {sink!r}")
    if sink == "file":
        return sink
    found = bool(elasticsearch_conn_id) and exists(str(elasticsearch_conn_id))
    if sink == "auto":
        return "elasticsearch" if found else "file"
    if not found:
        env = f"AIRFLOW_CONN_{str(elasticsearch_conn_id or DEFAULT_ELASTICSEARCH_CONN_ID).upper()}"
        raise JumpCloudConfigError(
            f"sink='elasticsearch' needs an elasticsearch_conn_id whose Airflow connection exists; "
            f"{elasticsearch_conn_id!r} does not exist: add it (airflow connections add, or the environment "
            f"variable {env})"
            if elasticsearch_conn_id
            else "sink='elasticsearch' needs an elasticsearch_conn_id"
        )
    return sink


class JumpCloudEcsToElasticsearchOperator(BaseOperator):
    """Bulk-load a mapped window into the ``logs-jumpcloud.events-<namespace>`` data stream, idempotently.

    Documents are created with the mapper's ``_id``: a re-run counts them as already present. Rejected
    documents go to the window's dead-letter file; the task fails when there are more than
    ``max_dead_letters``. With ``sink="auto"`` it loads when the connection ``elasticsearch_conn_id``
    exists and otherwise writes ``_bulk`` NDJSON files. With Elasticsearch it also indexes the window's
    quality summary (``quality/<window>/summary.json``) into ``logs-jumpcloud.quality-<namespace>``.
    Asset events (through the outlet :data:`~airflow_provider_jumpcloud.assets.LOAD_ALIAS`) are emitted
    only when documents arrived: ``logs-jumpcloud.events`` for Elasticsearch, the bulk-files asset for files.

    :param manifest: the mapped-window manifest from XCom (``window``, ``ecs_path``, ``counts``) (templated)
    :param staging_root: staging root: a local path or any ObjectStoragePath URL (templated)
    :param namespace: data stream namespace (templated)
    :param elasticsearch_conn_id: connection of type ``elasticsearch`` (templated)
    :param sink: ``auto``, ``elasticsearch`` or ``file`` (templated)
    :param data_retention: data stream lifecycle retention of the index templates, e.g. ``90d``; None
        keeps data forever (templated)
    :param lifecycle_policy: an existing ILM policy to use instead of the data stream lifecycle (templated)
    :param max_dead_letters: how many rejected documents are tolerated before the task fails
    :param chunk_size: documents per ``_bulk`` request (halved while the cluster answers 413)
    :param max_retries: retries of 429-rejected documents and of 429/502/503/504 requests
    :param initial_backoff: first wait (seconds) before retrying rejected documents; doubles each time
    :param install_templates: install/refresh the index templates and create the data streams first
    :param timestamp_fallback: give documents without ``@timestamp`` (error documents) the window start,
        since data streams refuse documents without one
    :param index_quality: index the quality summary document (Elasticsearch sink only)

    The 8.x/9.x ``compatible-with`` headers follow the Elasticsearch provider's
    ``[elasticsearch] es_compat_with`` (``AIRFLOW__ELASTICSEARCH__ES_COMPAT_WITH=8`` for an 8.x cluster).
    """

    template_fields: Sequence[str] = (
        "manifest",
        "staging_root",
        "namespace",
        "elasticsearch_conn_id",
        "sink",
        "data_retention",
        "lifecycle_policy",
    )
    ui_color = "#fdf2e3"

    def __init__(
        self,
        *,
        manifest: dict[str, Any],
        staging_root: str,
        namespace: str = "default",
        elasticsearch_conn_id: str | None = DEFAULT_ELASTICSEARCH_CONN_ID,
        sink: str = "auto",
        data_retention: str | None = DEFAULT_DATA_RETENTION,
        lifecycle_policy: str | None = None,
        max_dead_letters: int = 0,
        chunk_size: int = 500,
        max_retries: int = 3,
        initial_backoff: float = 2.0,
        install_templates: bool = True,
        timestamp_fallback: bool = True,
        index_quality: bool = True,
        **kwargs: Any,
    ) -> None:
        outlets = list(kwargs.pop("outlets", None) or [])
        if not any(isinstance(o, AssetAlias) and o.name == LOAD_ALIAS.name for o in outlets):
            outlets.append(LOAD_ALIAS)
        # The assets the alias may carry are declared too, as inlets (which emit nothing), so the DAG processor
        # registers them when it parses the DAG. Otherwise the first event creates the asset row at run time,
        # and two load tasks finishing at once race on its unique key: one of them fails.
        inlets = list(kwargs.pop("inlets", None) or [])
        inlets.extend(a for a in PRODUCED_ASSETS if a not in inlets)
        super().__init__(outlets=outlets, inlets=inlets, **kwargs)
        self.manifest = manifest
        self.staging_root = staging_root
        self.namespace = namespace
        self.elasticsearch_conn_id = elasticsearch_conn_id
        self.sink = sink
        self.data_retention = data_retention
        self.lifecycle_policy = lifecycle_policy
        self.max_dead_letters = max_dead_letters
        self.chunk_size = chunk_size
        self.max_retries = max_retries
        self.initial_backoff = initial_backoff
        self.install_templates = install_templates
        self.timestamp_fallback = timestamp_fallback
        self.index_quality = index_quality

    def execute(self, context: Context) -> dict[str, Any]:
        """Load the window, write the summary, fail above the dead-letter threshold; return a manifest."""
        window = Window.from_dict(self.manifest["window"])
        layout = StagingLayout.at(as_path(self.staging_root))
        ecs_path = as_path(self.manifest["ecs_path"])
        fallback = format_millis(window.start_ns) if self.timestamp_fallback else None
        quality: dict[str, Any] | None = None
        try:
            sink = resolve_sink(self.sink, self.elasticsearch_conn_id)
            stream = data_stream_name(self.namespace)
            lifecycle_template(_blank_to_none(self.data_retention), _blank_to_none(self.lifecycle_policy))
            if sink == "file":
                from airflow_provider_jumpcloud.sinks.files import write_bulk_file

                if self.sink == "auto":
                    self.log.info("No Elasticsearch connection %r: writing %s as _bulk files",
                                  self.elasticsearch_conn_id, window)
                result = write_bulk_file(
                    ecs_path,
                    layout.bulk(window),
                    namespace=self.namespace,
                    fallback_timestamp=fallback,
                    prestamped=bool(self.manifest.get("stamped")),
                )
            else:
                result, quality = self._load_es(context, window, layout, ecs_path, stream, fallback)
        except JumpCloudConfigError as err:
            raise AirflowFailException(str(err)) from err
        except StagingFileError as err:
            raise AirflowFailException(f"cannot load {window}: {err}") from err
        except BulkLoadError as err:
            raise AirflowFailException(f"load of {window} stopped: {err}") from err
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
        self._emit_asset_event(context, result, window)
        return manifest(
            "load",
            window,
            sink=sink,
            data_stream=stream,
            ecs_path=self.manifest["ecs_path"],
            bulk_path=result.output_path,
            dead_letter_path=result.dead_letter_path,
            summary_path=path_str(summary_path),
            quality_document=quality,
            counts={**(self.manifest.get("counts") or {}), **result.counts()},
        )

    def _load_es(
        self, context: Context, window: Window, layout: StagingLayout, ecs_path: Any, stream: str,
        fallback: str | None,
    ) -> tuple[LoadResult, dict[str, Any] | None]:
        """Install templates, load the window, index its quality summary; auth errors fail at once."""
        from airflow_provider_jumpcloud.sinks import elasticsearch as es_sink
        from airflow_provider_jumpcloud.spec.quality import build_quality_templates
        from airflow_provider_jumpcloud.spec.templates import build_templates

        client = self._client()
        with self._translate_errors(), _quiet_transport_log():
            if self.install_templates:
                lifecycle = {"data_retention": _blank_to_none(self.data_retention),
                             "lifecycle_policy": _blank_to_none(self.lifecycle_policy)}
                es_sink.install_templates(client, build_templates(**lifecycle))
                es_sink.ensure_data_stream(client, stream)
                if self.index_quality:
                    es_sink.install_templates(client, build_quality_templates(**lifecycle))
            result = es_sink.load_window(
                client,
                ecs_path,
                namespace=self.namespace,
                dead_letter_path=layout.dead_letter(window),
                fallback_timestamp=fallback,
                chunk_size=self.chunk_size,
                max_retries=self.max_retries,
                initial_backoff=self.initial_backoff,
            )
            quality = self._index_quality(client, context, window, layout) if self.index_quality else None
        return result, quality

    def _index_quality(
        self, client: Elasticsearch, context: Context, window: Window, layout: StagingLayout
    ) -> dict[str, Any] | None:
        """Index ``quality/<window>/summary.json`` as one document; None when the summary is absent."""
        from airflow_provider_jumpcloud.sinks.elasticsearch import index_document
        from airflow_provider_jumpcloud.spec.quality import quality_document

        path = layout.quality_summary(window)
        if not path.exists():
            self.log.info("No quality summary at %s (quality was skipped): no quality document for %s",
                          path_str(path), window)
            return None
        ti = context.get("ti")
        run_id = str(context.get("run_id") or getattr(ti, "run_id", None) or "manual")
        dag_id = getattr(ti, "dag_id", None)
        attempt = int(getattr(ti, "try_number", None) or 1)
        try:
            summary = read_json(path)
            if Window.from_dict(summary["window"]) != window:
                raise ValueError(f"it is the summary of {Window.from_dict(summary['window'])}")
            doc_id, doc = quality_document(summary, namespace=self.namespace, attempt=attempt,
                                           run_id=run_id, dag_id=dag_id)
        except (ValueError, KeyError, TypeError) as err:
            raise StagingFileError(
                f"{path_str(path)} is not a usable quality summary of {window} ({type(err).__name__}: "
                f"{str(err)[:300]}); re-run the quality task",
                path=path_str(path),
            ) from err
        quality_stream = data_stream_name(self.namespace, QUALITY_DATASET)
        created = index_document(client, quality_stream, doc_id, doc)
        self.log.info("Quality summary of %s (verdict %s, attempt %d) %s %s as %s", window, summary["verdict"],
                      attempt, "indexed into" if created else "already in", quality_stream, doc_id)
        return {"data_stream": quality_stream, "id": doc_id, "created": created}

    def _emit_asset_event(self, context: Context, result: LoadResult, window: Window) -> None:
        """Attach the asset event of this load to the task's alias outlet, when documents arrived."""
        event = load_asset_event(result, window, self.namespace)
        outlet_events = context.get("outlet_events")
        if event is None:
            self.log.info("No asset event: no document of %s arrived (%s)", window, result.counts())
            return
        if outlet_events is None:  # executed outside a task run (tests, scripts)
            return
        asset, extra = event
        outlet_events[LOAD_ALIAS].add(asset, extra=extra)
        self.log.info("Asset event for %s: %s", asset.name, extra["counts"])

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        """Turn credential and version-header refusals into AirflowFailException (retries cannot help)."""
        from elasticsearch import AuthenticationException, AuthorizationException, BadRequestError

        try:
            yield
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
                "differs from the client's. For an 8.x cluster set the Elasticsearch provider's "
                "[elasticsearch] es_compat_with = 8 (AIRFLOW__ELASTICSEARCH__ES_COMPAT_WITH=8)."
            ) from err

    def _client(self) -> Elasticsearch:
        """Build the client through ``ElasticsearchSQLHook`` (connection extras are client options).

        The provider's hook applies its ``[elasticsearch] es_compat_with`` setting to the client.
        """
        from airflow.providers.elasticsearch.hooks.elasticsearch import ElasticsearchSQLHook

        from airflow_provider_jumpcloud.sinks.elasticsearch import configure_client

        client = ElasticsearchSQLHook(elasticsearch_conn_id=self.elasticsearch_conn_id).get_conn().es
        return configure_client(
            client,
            max_retries=self.max_retries,
            backoff_base=min(self.initial_backoff, 1.0),
            backoff_cap=30.0,
        )


@contextmanager
def _quiet_transport_log() -> Iterator[None]:
    """Keep the client's one INFO line per HTTP request out of the task log (warnings still show)."""
    logger = logging.getLogger("elastic_transport.transport")
    before = logger.level
    logger.setLevel(max(before, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(before)


def _blank_to_none(value: str | None) -> str | None:
    """A templated optional setting: empty, or a rendered ``None`` / ``null``, means unset."""
    if value is None or str(value).strip() in ("", "None", "null"):
        return None
    return str(value).strip()


def _expected_documents(mapped: dict[str, Any]) -> int | None:
    """Documents the mapper wrote (mapped + error documents), when the manifest says."""
    counts = mapped.get("counts") or {}
    if "mapped" in counts and "error_documents" in counts:
        return int(counts["mapped"]) + int(counts["error_documents"])
    return None
