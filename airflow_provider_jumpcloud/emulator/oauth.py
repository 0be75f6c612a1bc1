"""The emulator's service-account token endpoint (OAuth 2.0 client credentials) and its token registry."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
from urllib.parse import parse_qs

import orjson

from airflow_provider_jumpcloud.emulator.config import EmulatorConfig

TOKEN_PATH = "/oauth2/token"


class TokenIssuer:
    """Issue bearer tokens for the configured client id/secret and check them (expiry on ``config.clock_ns``)."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[int, int]] = {}  # token -> (serial, expiry ns)
        self.issued = 0

    @property
    def enabled(self) -> bool:
        """Whether service accounts are configured (else the token endpoint answers 404)."""
        return self.config.client_id is not None

    def issue(self, authorization: str | None, raw: bytes) -> tuple[int, bytes]:
        """Answer a token request: ``(status, JSON body)`` per RFC 6749 section 5."""
        if not self.enabled:
            return 404, orjson.dumps({"message": "Not Found: service accounts are not enabled"})
        if not self._client_ok(authorization):
            return 401, orjson.dumps({"error": "invalid_client", "error_description": "client authentication failed"})
        form = parse_qs(raw.decode("utf-8", "replace"))
        if form.get("grant_type") != ["client_credentials"]:
            return 400, orjson.dumps({"error": "unsupported_grant_type"})
        if "api" not in " ".join(form.get("scope", [])).split():
            return 400, orjson.dumps({"error": "invalid_scope", "error_description": "scope must include api"})
        token = secrets.token_urlsafe(24)
        lifetime = self.config.token_lifetime
        with self._lock:
            self.issued += 1
            self._tokens[token] = (self.issued, self.config.clock_ns() + int(lifetime * 1e9))
        body = {"access_token": token, "expires_in": int(lifetime) if lifetime >= 1 else lifetime,
                "token_type": "bearer", "scope": "api"}
        return 200, orjson.dumps(body)

    def check(self, authorization: str) -> int | None:
        """Return the serial of a valid ``Bearer`` token, or None (unknown, expired or not a bearer value)."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        with self._lock:
            entry = self._tokens.get(token.strip())
        if entry is None or self.config.clock_ns() >= entry[1]:
            return None
        return entry[0]

    def serial_of(self, authorization: str | None) -> int | None:
        """The serial of the bearer token in ``authorization`` whether valid or not (for the request log)."""
        if not authorization:
            return None
        _, _, token = authorization.partition(" ")
        with self._lock:
            entry = self._tokens.get(token.strip())
        return entry[0] if entry else None

    def revoke_all(self) -> None:
        """Expire every issued token now (the next API call with one gets a 401; serials stay known)."""
        with self._lock:
            self._tokens = {token: (serial, 0) for token, (serial, _) in self._tokens.items()}

    def _client_ok(self, authorization: str | None) -> bool:
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            pair = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        client_id, _, secret = pair.partition(":")
        expected_id, expected_secret = self.config.client_id or "", self.config.client_secret or ""
        return hmac.compare_digest(client_id.encode(), expected_id.encode()) and hmac.compare_digest(
            secret.encode(), expected_secret.encode()
        )
