"""JumpCloud credentials: API key or service-account (OAuth 2.0 client credentials) tokens, and secret scrubbing.

No Airflow import and no HTTP: the hook sends the token request this module describes and hands the
answer back to :meth:`TokenCache.store`.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus, urlencode

from airflow_provider_jumpcloud.exceptions import JumpCloudAuthError, JumpCloudConfigError

#: OAuth token endpoints of JumpCloud's admin service accounts, by region (no documented host for ``in``).
TOKEN_URLS = {
    "us": "https://admin-oauth.id.jumpcloud.com/oauth2/token",
    "eu": "https://admin-oauth.id.eu.jumpcloud.com/oauth2/token",
}
#: Form body of the client-credentials grant.
TOKEN_FORM = urlencode({"grant_type": "client_credentials", "scope": "api"})
#: A token is replaced this long before it expires (at most a tenth of its lifetime).
REFRESH_MARGIN = 60.0
#: Lifetime assumed when the token answer has no usable ``expires_in``.
DEFAULT_LIFETIME = 3600.0
MASK = "***"
_MIN_VARIANT = 4  # shorter encodings of a secret are not replaced (they would hit ordinary text)


def basic_authorization(client_id: str, client_secret: str) -> str:
    """Return the HTTP Basic ``Authorization`` value for a client id and secret."""
    pair = f"{client_id}:{client_secret}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def token_url_for(region: str, override: str | None, conn_id: str) -> str:
    """Return the token endpoint: the ``token_url`` extra, else the region's, else a config error."""
    if override:
        if not override.startswith(("https://", "http://")):
            raise JumpCloudConfigError(
                f"token_url {override[:100]!r} of connection {conn_id!r} must be an http(s) URL"
            )
        return override
    if region not in TOKEN_URLS:
        raise JumpCloudConfigError(
            f"no known service-account token URL for region {region!r}: set the token_url extra of connection "
            f"{conn_id!r} (known regions: {', '.join(TOKEN_URLS)})"
        )
    return TOKEN_URLS[region]


class SecretScrubber:
    """Replace every known secret, and its URL-encoded and base64 forms, with ``***`` in text."""

    def __init__(self) -> None:
        self._variants: set[str] = set()

    def add(self, secret: str, *, basic_user: str | None = None) -> list[str]:
        """Register ``secret`` (and, with ``basic_user``, its Basic-auth header form); return the new forms."""
        if not secret:
            return []
        raw = secret.encode()
        forms = {
            secret,
            quote(secret, safe=""),
            quote_plus(secret),
            base64.b64encode(raw).decode(),
            base64.urlsafe_b64encode(raw).decode(),
            base64.b64encode(raw).decode().rstrip("="),
            json.dumps(secret)[1:-1],
        }
        if basic_user is not None:
            forms.add(basic_authorization(basic_user, secret).split(" ", 1)[1])
        new = [f for f in forms if f not in self._variants and (f == secret or len(f) >= _MIN_VARIANT)]
        self._variants.update(new)
        return new

    def __bool__(self) -> bool:
        return bool(self._variants)

    def scrub(self, text: str) -> str:
        """Return ``text`` with every registered form replaced by ``***`` (longest forms first)."""
        for form in sorted(self._variants, key=len, reverse=True):
            if form in text:
                text = text.replace(form, MASK)
        return text

    def scrub_all(self, values: Iterable[object]) -> tuple[object, ...]:
        """Scrub the strings among ``values`` (exception ``args``), leaving other objects alone."""
        return tuple(self.scrub(v) if isinstance(v, str) else v for v in values)


@dataclass
class TokenCache:
    """One service-account access token, kept until shortly before it expires.

    :param clock: monotonic seconds, injectable so tests can cross an expiry without waiting
    """

    clock: Callable[[], float] = time.monotonic
    token: str | None = field(default=None, repr=False)
    expires_at: float = 0.0
    fetched: int = 0

    def valid(self) -> str | None:
        """Return the cached token while it is not about to expire, else None."""
        if self.token is not None and self.clock() < self.expires_at:
            return self.token
        return None

    def invalidate(self) -> None:
        """Forget the token (the API refused it), so the next request fetches a new one."""
        self.token = None
        self.expires_at = 0.0

    def store(self, body: bytes, *, token_url: str) -> str:
        """Parse a token endpoint's 200 answer, cache the token and return it; raise on a bad answer."""
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token.strip():
            raise JumpCloudAuthError(
                f"the token endpoint {token_url} answered 200 without an access_token; check token_url",
                endpoint=f"POST {token_url}",
            )
        lifetime = data.get("expires_in") if isinstance(data, dict) else None
        seconds = float(lifetime) if isinstance(lifetime, int | float) and not isinstance(lifetime, bool) else 0.0
        if not seconds > 0:
            seconds = DEFAULT_LIFETIME
        margin = min(REFRESH_MARGIN, seconds / 10)
        self.token = token.strip()
        self.expires_at = self.clock() + seconds - margin
        self.fetched += 1
        return self.token


def token_error_advice(status: int, conn_id: str) -> str:
    """Return what to fix when the token endpoint refuses the client credentials."""
    if status in (400, 401, 403):
        return (
            "the service account's client credentials were refused: check the login (client id) and password "
            f"(client secret) of connection {conn_id!r}, and that the service account is active"
        )
    return "the token endpoint refused the request; check the token_url extra"
