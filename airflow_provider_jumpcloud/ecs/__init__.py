"""JumpCloud event -> ECS document mapping with Elastic parity (pure Python, no Airflow import)."""

from __future__ import annotations

from airflow_provider_jumpcloud.ecs.files import MapCounts, map_file
from airflow_provider_jumpcloud.ecs.fingerprint import fingerprint, raw_id
from airflow_provider_jumpcloud.ecs.geoip import GeoIP, open_geoip
from airflow_provider_jumpcloud.ecs.pipeline import (
    DIFFERENCES,
    ECS_VERSION,
    PIPELINE_ERROR,
    EventMapper,
    map_event,
)

__all__ = [
    "DIFFERENCES",
    "ECS_VERSION",
    "PIPELINE_ERROR",
    "EventMapper",
    "GeoIP",
    "MapCounts",
    "fingerprint",
    "map_event",
    "map_file",
    "open_geoip",
    "raw_id",
]
