"""Fetch one window of Directory Insights events into the staging area."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_jumpcloud.exceptions import JumpCloudConfigError
from airflow_provider_jumpcloud.hooks.jumpcloud import JumpCloudHook
from airflow_provider_jumpcloud.staging import StagingLayout, as_path, manifest, path_str, write_json, write_ndjson
from airflow_provider_jumpcloud.windows import Window, check_retention, lagged

if TYPE_CHECKING:
    from airflow.sdk import Context


def resolve_window(
    window: dict[str, str] | None, start: Any, end: Any, lag: timedelta
) -> Window:
    """Return the fetch window: an explicit ``{"start", "end"}`` or ``[start - lag, end - lag)``."""
    if window:
        return Window.from_dict(window)
    if start is None or end is None:
        raise JumpCloudConfigError("give either window={'start','end'} or both start and end")
    return lagged(start, end, lag)


class JumpCloudToStorageOperator(BaseOperator):
    """Fetch the events of one half-open window into compressed NDJSON in the staging area.

    :param staging_root: staging root: a local path or any ObjectStoragePath URL (templated)
    :param window: ``{"start", "end"}`` of the window to fetch, already lagged (templated); with a ``raw_plan``
        (an archive plan file, see :mod:`airflow_provider_jumpcloud.archive`) the window's events come from
        the staged raw archive instead, verified against their manifests, and no API call is made
    :param start: data interval start, used with ``end`` and ``lag`` when no window is given (templated)
    :param end: data interval end (templated)
    :param lag: how far behind the data interval to read, so late events have arrived
    :param services: Directory Insights services to fetch (templated)
    :param retention_days: the plan's retention (15 or 90); older windows are refused before any call
        (templated)
    :param jumpcloud_conn_id: connection of type ``jumpcloud`` (templated)
    """

    template_fields: Sequence[str] = (
        "staging_root", "window", "start", "end", "services", "retention_days", "jumpcloud_conn_id"
    )
    ui_color = "#e8f4fa"

    def __init__(
        self,
        *,
        staging_root: str,
        window: dict[str, str] | None = None,
        start: Any = "{{ data_interval_start }}",
        end: Any = "{{ data_interval_end }}",
        lag: timedelta = timedelta(0),
        services: Sequence[str] = ("all",),
        retention_days: int = 90,
        page_size: int = 10000,
        jumpcloud_conn_id: str = JumpCloudHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.staging_root = staging_root
        self.window = window
        self.start = start
        self.end = end
        self.lag = lag
        self.services = services
        self.retention_days = retention_days
        self.page_size = page_size
        self.jumpcloud_conn_id = jumpcloud_conn_id

    @cached_property
    def hook(self) -> JumpCloudHook:
        """The JumpCloud hook for this task."""
        return JumpCloudHook(jumpcloud_conn_id=self.jumpcloud_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        """Count, then page through the window into staging; return the small raw-window manifest.

        Errors retrying cannot fix fail the task at once (AirflowFailException, no retry): a window past
        retention, an archive file that differs from its manifest, a bad connection, and the API's
        400/401/402/403 answers (every :class:`JumpCloudConfigError`).
        """
        try:
            return self._execute()
        except JumpCloudConfigError as err:
            raise AirflowFailException(str(err)) from err

    def _execute(self) -> dict[str, Any]:
        window = resolve_window(self.window, self.start, self.end, self.lag)
        if self.window and self.window.get("raw_plan"):
            return self._from_archive(window, self.window["raw_plan"])
        check_retention(window, int(self.retention_days))
        services = (self.services,) if isinstance(self.services, str) else tuple(self.services)
        layout = StagingLayout.at(as_path(self.staging_root))
        target = layout.raw(window)
        with self.hook as hook:
            # iter_events checks every argument before any request (its pages are fetched lazily)
            events = hook.iter_events(window.start, window.end, services=services, page_size=self.page_size)
            api_count = hook.count_events(window.start, window.count_end, services=services)
            self.log.info("JumpCloud counts %d events in %s; fetching to %s", api_count, window, target)
            fetched, written = write_ndjson(target, events)
            if fetched != api_count:
                recount = hook.count_events(window.start, window.count_end, services=services)
                self.log.warning(
                    "Fetched %d events but the API counted %d (recount after fetch: %d) for %s",
                    fetched, api_count, recount, window,
                )
                api_count = recount
        self.log.info("Fetched %d events for %s (%d bytes compressed)", fetched, window, written.size)
        result = manifest(
            "fetch",
            window,
            raw_path=path_str(target),
            sha256=written.sha256,
            bytes=written.size,
            counts={"fetched": fetched},
            api_count=api_count,
            services=list(services),
        )
        write_json(layout.raw_manifest(window), result)  # the archive's index, for re-mapping without the API
        return result

    def _from_archive(self, window: Window, raw_plan: str) -> dict[str, Any]:
        """Verify the staged raw windows an archive plan lists; return their manifest (no API call)."""
        from airflow_provider_jumpcloud.archive import read_batch, verify_part

        batch = read_batch(as_path(raw_plan))
        if batch.window != window:
            raise JumpCloudConfigError(f"archive plan {raw_plan} covers {batch.window}, not the window {window}")
        for part in batch.parts:
            verify_part(part, as_path(part.raw_path))
        self.log.info("Re-mapping %d staged raw window(s) of %s from the archive: %d events (API counted %s)",
                      len(batch.parts), window, batch.events, batch.api_count)
        return manifest(
            "fetch",
            window,
            source="archive",
            raw_plan=raw_plan,
            parts=len(batch.parts),
            bytes=sum(part.bytes for part in batch.parts),
            counts={"fetched": batch.events},
            api_count=batch.api_count,
        )

