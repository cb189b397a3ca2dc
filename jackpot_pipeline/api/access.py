"""Who may use the API: opaque bearer tokens stored hashed, three roles, and the audit table of writes.

Tokens are opaque API keys, ``jpk_<token_id>_<secret>``: the id is public (it names the token in lists, the
audit table and ``revoke``), the secret is 32 random bytes shown once when the token is issued and stored
only as its sha256. A token carries a subject (who) and a role, and has an expiry; a revoked or expired token
is refused the same way as an unknown one. Opaque keys rather than signed JWTs because they can be revoked
at once without a deny list, and the server keeps nothing that could forge one.

Roles:

* ``analyst``: submits cards (as their own owner), reads their own cards, predictions, tickets and traces,
  and the shared tables (match predictions, model health, freshness);
* ``auditor``: reads everything, including every card, trace and the audit table; submits nothing;
* ``admin``: everything, and issues and revokes tokens.

The store is one SQLite file under the data directory (``<data dir>/api/access.sqlite3``), never in the
repository: tables ``tokens`` and ``audit``. The audit table is append-only: one row per write (card
submitted, token issued, token revoked) with time, request id, subject, role, action, target and outcome.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

__all__ = [
    "ROLES",
    "AccessStore",
    "AuditEntry",
    "IssuedToken",
    "Principal",
    "Role",
    "TokenError",
    "TokenInfo",
    "check_subject",
    "parse_duration",
]

Role = Literal["analyst", "auditor", "admin"]
ROLES: Final[tuple[Role, ...]] = ("analyst", "auditor", "admin")
TOKEN_PREFIX: Final = "jpk_"
DEFAULT_LIFETIME: Final = dt.timedelta(days=30)
# Subjects name card owners and, when the API reads PostgreSQL, the analyst's database role: a plain
# lower-case identifier keeps them valid there too (63 bytes is PostgreSQL's identifier limit).
SUBJECT_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,62}")
_TOKEN_PATTERN: Final = re.compile(r"jpk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


class TokenError(ValueError):
    """A token that cannot be issued or revoked (bad subject, role, unknown id)."""


def check_subject(subject: str) -> str:
    if not SUBJECT_PATTERN.fullmatch(subject):
        raise TokenError(
            f"subject {subject!r} must be 1-63 characters of a-z, 0-9 and '_', starting with a letter "
            "(it names the card owner and the analyst's database role)"
        )
    return subject


def parse_duration(text: str) -> dt.timedelta:
    """``30d``, ``12h``, ``90m`` or ``45s`` -> timedelta (positive)."""
    match = re.fullmatch(r"\s*([0-9]{1,6})\s*([dhms])\s*", text)
    if not match or int(match.group(1)) == 0:
        raise TokenError(f"duration {text!r} is not a positive number followed by d, h, m or s (e.g. 30d)")
    unit = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}[match.group(2)]
    return dt.timedelta(**{unit: int(match.group(1))})


@dataclass(frozen=True)
class Principal:
    """The caller a valid token names."""

    subject: str
    role: Role
    token_id: str

    @property
    def reads_everything(self) -> bool:
        return self.role in ("auditor", "admin")

    def may_read(self, owner: str | None) -> bool:
        """Whether the caller may see a card owned by ``owner`` (a card without owner belongs to no analyst)."""
        return self.reads_everything or (owner is not None and owner == self.subject)


@dataclass(frozen=True)
class TokenInfo:
    token_id: str
    subject: str
    role: Role
    created_at: str
    expires_at: str
    revoked_at: str | None
    created_by: str | None

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class IssuedToken:
    """A new token: ``token`` is the only copy of the secret."""

    token: str
    info: TokenInfo


@dataclass(frozen=True)
class AuditEntry:
    at: str
    request_id: str
    subject: str
    role: str
    action: str
    target: str
    outcome: str
    detail: str

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    token_id    TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    subject     TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('analyst', 'auditor', 'admin')),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT,
    created_by  TEXT
);
CREATE TABLE IF NOT EXISTS audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    subject     TEXT NOT NULL,
    role        TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER IF NOT EXISTS audit_append_only_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit table is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_append_only_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit table is append-only'); END;
"""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def _secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class AccessStore:
    """Tokens and the audit table in ``path`` (a SQLite file, created with its folder on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._ready = False

    @classmethod
    def under(cls, data_dir: str | Path) -> AccessStore:
        return cls(Path(data_dir) / "api" / "access.sqlite3")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if not self._ready:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=30.0)
            try:
                if not self._ready:
                    connection.executescript(_SCHEMA)
                    self._ready = True
                with connection:
                    yield connection
            finally:
                connection.close()

    # -- tokens ----------------------------------------------------------------------------------

    def issue(self, subject: str, role: str, *, lifetime: dt.timedelta = DEFAULT_LIFETIME,
              created_by: str | None = None, now: dt.datetime | None = None) -> IssuedToken:
        check_subject(subject)
        if role not in ROLES:
            raise TokenError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if lifetime <= dt.timedelta(0):
            raise TokenError("a token's lifetime must be positive")
        created = now or _now()
        token_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        info = TokenInfo(token_id, subject, role, _stamp(created), _stamp(created + lifetime), None,  # type: ignore[arg-type]
                         created_by)
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO tokens (token_id, secret_sha256, subject, role, created_at, expires_at, created_by) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (token_id, _secret_digest(secret), subject, role, info.created_at, info.expires_at, created_by),
            )
        return IssuedToken(f"{TOKEN_PREFIX}{token_id}_{secret}", info)

    def revoke(self, token_id: str, *, now: dt.datetime | None = None) -> TokenInfo:
        with self._connect() as connection:
            updated = connection.execute(
                "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE token_id = ?", (_stamp(now or _now()), token_id)
            ).rowcount
        if not updated:
            raise TokenError(f"no token with id {token_id!r}")
        info = self.token(token_id)
        assert info is not None
        return info

    def token(self, token_id: str) -> TokenInfo | None:
        with self._connect() as connection:
            row = connection.execute(
                "SELECT token_id, subject, role, created_at, expires_at, revoked_at, created_by FROM tokens WHERE token_id = ?",
                (token_id,),
            ).fetchone()
        return None if row is None else TokenInfo(*row)

    def tokens(self) -> list[TokenInfo]:
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT token_id, subject, role, created_at, expires_at, revoked_at, created_by FROM tokens ORDER BY created_at, token_id"
            ).fetchall()
        return [TokenInfo(*row) for row in rows]

    def authenticate(self, token: str, *, now: dt.datetime | None = None) -> Principal | None:
        """The principal of a valid token; None for a malformed, unknown, tampered, expired or revoked one."""
        match = _TOKEN_PATTERN.fullmatch(token)
        if match is None:
            return None
        token_id, secret = match.groups()
        with self._connect() as connection:
            row = connection.execute(
                "SELECT secret_sha256, subject, role, expires_at, revoked_at FROM tokens WHERE token_id = ?", (token_id,)
            ).fetchone()
        if row is None:
            return None
        digest, subject, role, expires_at, revoked_at = row
        if not hmac.compare_digest(digest, _secret_digest(secret)):
            return None
        if revoked_at is not None or dt.datetime.fromisoformat(expires_at) <= (now or _now()):
            return None
        return Principal(subject, role, token_id)

    # -- audit -----------------------------------------------------------------------------------

    def audit(self, *, request_id: str, subject: str, role: str, action: str, target: str, outcome: str,
              detail: str = "") -> None:
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO audit (at, request_id, subject, role, action, target, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (_stamp(_now()), request_id, subject, role, action, target, outcome, detail),
            )

    def audit_entries(self, *, limit: int = 100, offset: int = 0) -> tuple[int, list[AuditEntry]]:
        with self._connect() as connection:
            total = connection.execute("SELECT count(*) FROM audit").fetchone()[0]
            rows = connection.execute(
                "SELECT at, request_id, subject, role, action, target, outcome, detail FROM audit ORDER BY id LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
        return total, [AuditEntry(*row) for row in rows]
