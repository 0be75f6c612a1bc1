"""Directory Insights API emulator: deterministic events, real pagination semantics, fault injection.

Pure standard library plus numpy/orjson; no Airflow import. Run it with
``python -m airflow_provider_jumpcloud.emulator --help`` or in-process with :class:`EmulatorServer`.
"""

from __future__ import annotations

from airflow_provider_jumpcloud.emulator.config import EVENTS_PATH, EmulatorConfig
from airflow_provider_jumpcloud.emulator.events import expected_count, expected_events, make_source
from airflow_provider_jumpcloud.emulator.faults import Fault, FaultPlan, parse_fault
from airflow_provider_jumpcloud.emulator.server import EmulatorServer, RequestRecord

__all__ = [
    "EVENTS_PATH",
    "EmulatorConfig",
    "EmulatorServer",
    "Fault",
    "FaultPlan",
    "RequestRecord",
    "expected_count",
    "expected_events",
    "make_source",
    "parse_fault",
]
