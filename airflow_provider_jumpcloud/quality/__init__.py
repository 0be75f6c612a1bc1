"""Data quality of mapped windows: GX suite generated from the spec, chunked validation, reports, policy.

Nothing here imports Airflow; Great Expectations is imported only inside :func:`check_window`.
"""

from __future__ import annotations

import logging

#: Loggers of the libraries the check imports. GX logs hundreds of INFO lines while it is imported (its API
#: registry) and a few while it runs; in a task log they would bury the check's own summary.
QUIET_LOGGERS = ("great_expectations", "great_expectations.data_context.types.base", "tzlocal")


def quiet_logs() -> None:
    """Keep the quality check's third-party libraries to warnings and errors in the task log."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


quiet_logs()  # before anything imports GX

from airflow_provider_jumpcloud.quality.policy import QualityPolicy  # noqa: E402
from airflow_provider_jumpcloud.quality.validate import check_window  # noqa: E402

__all__ = ["QualityPolicy", "check_window", "quiet_logs"]
