"""Map one staged window of raw events to ECS documents."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_jumpcloud.exceptions import StagingFileError
from airflow_provider_jumpcloud.spec.datastream import DATASET
from airflow_provider_jumpcloud.staging import CheckedFile, StagingLayout, as_path, manifest, path_str
from airflow_provider_jumpcloud.timestamps import format_millis
from airflow_provider_jumpcloud.windows import Window

if TYPE_CHECKING:
    from airflow.sdk import Context


class JumpCloudEventsToEcsOperator(BaseOperator):
    """Turn a raw staged window into ECS documents (error documents for bad events), streaming.

    :param manifest: the fetch manifest from XCom (``window``, ``raw_path`` or an archive ``raw_plan``,
        ``counts``) (templated)
    :param staging_root: staging root: a local path or any ObjectStoragePath URL (templated)
    :param tags: tags for every document, as the Elastic agent would add them
        (``preserve_original_event``, ``preserve_duplicate_custom_fields``, ...)
    :param geoip_city_db: optional path of a MaxMind City ``.mmdb`` file (nothing is downloaded)
    :param geoip_asn_db: optional path of a MaxMind ASN ``.mmdb`` file
    """

    template_fields: Sequence[str] = ("manifest", "staging_root", "tags", "geoip_city_db", "geoip_asn_db")
    ui_color = "#eaf7ea"

    def __init__(
        self,
        *,
        manifest: dict[str, Any],
        staging_root: str,
        tags: Sequence[str] = ("preserve_original_event",),
        geoip_city_db: str | None = None,
        geoip_asn_db: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.manifest = manifest
        self.staging_root = staging_root
        self.tags = tags
        self.geoip_city_db = geoip_city_db
        self.geoip_asn_db = geoip_asn_db

    def execute(self, context: Context) -> dict[str, Any]:
        """Map the raw file to the ECS file; return the mapped-window manifest with counts that add up.

        The raw file is checked against the size and SHA-256 its fetch manifest recorded while it is read
        (nothing is written from a file that differs); a corrupt, truncated or changed staging file fails
        the task at once, naming the file, the line and the window: retrying cannot fix it.
        """
        from airflow_provider_jumpcloud.ecs import map_file, open_geoip

        window = Window.from_dict(self.manifest["window"])
        if self.manifest.get("raw_plan"):  # re-mapping from the archive: the staged raw windows, in order
            from airflow_provider_jumpcloud.archive import read_batch

            parts = read_batch(as_path(self.manifest["raw_plan"])).parts
            src: Any = [CheckedFile(as_path(part.raw_path), part.bytes, part.sha256) for part in parts]
            source = f"{len(parts)} raw window(s) of {self.manifest['raw_plan']}"
            remedy = "fetch that raw window again from the API while it is within the retention"
        else:
            src = as_path(self.manifest["raw_path"])
            if self.manifest.get("sha256") and self.manifest.get("bytes") is not None:
                src = CheckedFile(src, int(self.manifest["bytes"]), str(self.manifest["sha256"]))
            source = f"raw file {self.manifest['raw_path']}"
            remedy = "clear the window's fetch task to fetch it again"
        dst = StagingLayout.at(self.staging_root).ecs(window)
        geoip = open_geoip(city_db=self.geoip_city_db, asn_db=self.geoip_asn_db)
        fallback = format_millis(window.start_ns)
        try:
            counts = map_file(src, dst, tags=tuple(self.tags), geoip=geoip, dataset=DATASET,
                              fallback_timestamp=fallback)
        except StagingFileError as err:
            raise AirflowFailException(f"cannot map window {window}: {err}; {remedy}") from err
        self.log.info(
            "Mapped %s: read %d, mapped %d, error documents %d -> %s",
            window, counts.read, counts.mapped, counts.error_documents, dst,
        )
        fetched = self.manifest.get("counts", {}).get("fetched")
        if fetched is not None and fetched != counts.read:
            raise RuntimeError(f"{source} holds {counts.read} events but fetch wrote {fetched}")
        return manifest(
            "map",
            window,
            raw_path=self.manifest.get("raw_path"),
            raw_plan=self.manifest.get("raw_plan"),
            ecs_path=path_str(dst),
            # readers verify the ECS file with staging.CheckedFile(as_path(ecs_path), bytes, sha256)
            bytes=counts.output.size if counts.output else None,
            sha256=counts.output.sha256 if counts.output else None,
            counts={
                "fetched": counts.read,
                "read": counts.read,
                "mapped": counts.mapped,
                "error_documents": counts.error_documents,
            },
            api_count=self.manifest.get("api_count"),
            stamped=True,
        )

