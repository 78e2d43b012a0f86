"""API-key authentication: ``Authorization: Bearer <key>`` resolved to a project and scopes.

Keys are looked up by SHA-256 hash (the store never holds a key itself) and cached briefly so ingest does not
query storage per request. The bootstrap admin key from settings is compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
import time
from dataclasses import dataclass

from tracehouse.storage import Store, hash_key


class AuthError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    project: str | None  # None for the bootstrap admin key
    scopes: frozenset[str]
    key_id: str = ""  # a stable, non-secret id of the key (rate limits, logs)


class Authenticator:
    def __init__(self, store: Store, admin_key: str | None, cache_seconds: float = 30.0) -> None:
        self._store = store
        self._admin_key = admin_key
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def authenticate(self, authorization: str | None, allow_basic: bool = False) -> Principal:
        """Blocking (may query storage): call it off the event loop.

        ``allow_basic`` accepts Langfuse-style ``Basic base64(public:secret)``: the secret is a tracehouse API
        key and the public key must be its project id.
        """
        scheme, _, key = (authorization or "").partition(" ")
        key = key.strip()
        if allow_basic and scheme.lower() == "basic":
            public, secret = _basic_credentials(key)
            principal = self.authenticate(f"Bearer {secret}")
            if principal.project is None or not hmac.compare_digest(public.encode(), principal.project.encode()):
                raise AuthError(401, "Basic auth: the public key must be the project id of the secret key")
            return principal
        if scheme.lower() != "bearer" or not key:
            raise AuthError(401, "missing API key: send 'Authorization: Bearer <key>' (TRACEHOUSE_API_KEY)")
        if self._admin_key and hmac.compare_digest(key.encode(), self._admin_key.encode()):
            return Principal(project=None, scopes=frozenset({"admin"}), key_id="admin")
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            principal = cached[1]
        else:
            found = self._store.find_key(key)
            principal = Principal(found.project, frozenset(found.scopes), hash_key(key)[:16]) if found else None
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[key] = (now + self._cache_seconds, principal)
        if principal is None:
            raise AuthError(401, "unknown or revoked API key")
        return principal

    def forget(self) -> None:
        """Drop cached lookups (after a key is revoked, this collector refuses it at once; other replicas
        within ``cache_seconds``)."""
        with self._lock:
            self._cache.clear()

    def require(self, authorization: str | None, scope: str, allow_basic: bool = False) -> Principal:
        principal = self.authenticate(authorization, allow_basic)
        if scope not in principal.scopes and "admin" not in principal.scopes:
            raise AuthError(403, f"this key lacks the {scope!r} scope")
        if scope != "admin" and principal.project is None:
            raise AuthError(403, "the admin key has no project: create a project key for this route")
        return principal


def _basic_credentials(encoded: str) -> tuple[str, str]:
    try:
        public, sep, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise AuthError(401, "Basic auth: credentials are not base64 of 'public:secret'") from exc
    if not sep or not secret:
        raise AuthError(401, "Basic auth: expected 'public:secret'")
    return public, secret
