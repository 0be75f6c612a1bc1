"""Turn staging roots and manifest paths (local, ``file://`` or object-store URLs) into path objects."""

from __future__ import annotations

from typing import Any

from airflow_provider_jumpcloud.staging import as_path


def storage_path(path: str) -> Any:
    """Return an ObjectStoragePath for object-store URLs (so ``s3://conn@bucket`` works), else a local path."""
    if "://" in path and not path.startswith("file://"):
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(path)
    return as_path(path)
