"""ECS categorization of JumpCloud events: ``event.category``, ``event.type`` and ``event.outcome``.

Tables of Elastic's pipeline (steps 11-14 and 33-37 of ``default.yml``): only the listed ``event_type``
values get a category; the outcome starts at ``unknown``, then ``sso_token_success`` and finally ``success``
overwrite it, and only real JSON booleans count (the string ``"true"`` leaves ``unknown``).
"""

from __future__ import annotations

from typing import Any

AUTHENTICATION_EVENT_TYPES = frozenset({"ldap_bind", "user_login_attempt", "sso_auth", "admin_login_attempt"})
IAM_EVENT_TYPES = frozenset(
    {"user_password_warning_email", "user_password_reset_request", "user_activation_email", "user_unlocked"}
)


def categorize(event_type: Any) -> tuple[list[str], list[str]] | None:
    """Return ``(event.category, event.type)`` for a JumpCloud ``event_type``, or None if uncategorized."""
    if type(event_type) is not str:
        return None
    if event_type in AUTHENTICATION_EVENT_TYPES:
        return ["authentication"], ["info"]
    if event_type in IAM_EVENT_TYPES:
        return ["iam"], ["info"]
    return None


def outcome(event: dict[str, Any]) -> str:
    """Return ``event.outcome``: unknown, then ``sso_token_success``, then ``success`` (later steps win)."""
    result = "unknown"
    sso = event.get("sso_token_success")
    if sso is True:
        result = "success"
    elif sso is False:
        result = "failure"
    success = event.get("success")
    if success is True:
        result = "success"
    elif success is False:
        result = "failure"
    return result
