"""Exceptions of the JumpCloud provider; no Airflow import, so pure modules can raise them."""

from __future__ import annotations

from typing import Any


class JumpCloudError(Exception):
    """Base class of every error raised by this package."""


class JumpCloudConfigError(JumpCloudError, ValueError):
    """A connection setting or a parameter is invalid; the message says what to fix."""


class InvalidWindowError(JumpCloudConfigError):
    """A time window is not a valid half-open ``[start, end)`` interval of aware datetimes."""


class RetentionError(InvalidWindowError):
    """A window starts before the oldest time the Directory Insights API still serves."""

    def __init__(self, message: str, *, oldest: str) -> None:
        super().__init__(message)
        self.oldest = oldest


class JumpCloudAPIError(JumpCloudError):
    """The Directory Insights API answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        endpoint: str = "",
        server_message: str = "",
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.endpoint = endpoint
        self.server_message = server_message
        self.request_id = request_id


class JumpCloudBadRequestError(JumpCloudAPIError, JumpCloudConfigError):
    """HTTP 400: the query was rejected (bad window, unknown service, retention, bad fields); never retried."""


class JumpCloudAuthError(JumpCloudAPIError, JumpCloudConfigError):
    """HTTP 401 or 403: the key, secret or token was refused or may not read Directory Insights; never retried."""


class JumpCloudPlanError(JumpCloudAPIError, JumpCloudConfigError):
    """HTTP 402: Directory Insights is not enabled for the organisation's plan; never retried."""


class JumpCloudTransientError(JumpCloudAPIError):
    """A retryable failure (429, 5xx, connection reset, timeout) that outlived its retries."""

    def __init__(self, message: str, *, attempts: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.attempts = attempts


class MalformedPageError(JumpCloudError):
    """A response page is not a complete JSON array or contradicts its pagination headers."""


class CursorNotAdvancingError(MalformedPageError):
    """An ``X-Search_after`` cursor is not after the previous page's: paging would repeat or loop."""


class ContentEncodingError(MalformedPageError):
    """A response body could not be decoded with its ``Content-Encoding`` (e.g. a corrupt gzip body)."""


class IncompleteWindowError(JumpCloudError):
    """A window holds fewer or more events than the API counted for it."""

    def __init__(self, message: str, *, expected: int, got: int) -> None:
        super().__init__(message)
        self.expected = expected
        self.got = got


class BulkLoadError(JumpCloudError):
    """Documents were rejected by Elasticsearch beyond the allowed dead-letter threshold."""

    def __init__(self, message: str, *, items: int = 0, dead_letter_path: str | None = None) -> None:
        super().__init__(message)
        self.items = items
        self.dead_letter_path = dead_letter_path


class QualityCheckFailed(JumpCloudError):
    """The quality policy judged a window as failed."""

    def __init__(self, message: str, *, summary: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.summary = summary or {}


class StagingFileError(JumpCloudError):
    """A staged file is unreadable, truncated or does not match its manifest; names the file and line."""

    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
