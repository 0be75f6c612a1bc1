"""Data quality of mapped windows: GX suite generated from the spec, chunked validation, reports, policy.

Nothing here imports Airflow; Great Expectations is imported only inside :func:`check_window`.
"""

from __future__ import annotations

from airflow_provider_jumpcloud.quality.policy import QualityPolicy
from airflow_provider_jumpcloud.quality.validate import check_window

__all__ = ["QualityPolicy", "check_window"]
