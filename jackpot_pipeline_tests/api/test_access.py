"""Tokens and the audit table without a server: issue, authenticate, expire, revoke, tamper; the CLI verb; the
store never holds a secret."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from jackpot_pipeline.api.access import AccessStore, TokenError, parse_duration
from jackpot_pipeline.cli import main


def test_a_token_names_its_subject_and_role_until_it_expires_or_is_revoked(tmp_path):
    store = AccessStore(tmp_path / "access.sqlite3")
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    issued = store.issue("alice", "analyst", lifetime=dt.timedelta(hours=2), now=now)
    found = store.authenticate(issued.token, now=now + dt.timedelta(minutes=1))
    assert (found.subject, found.role, found.token_id) == ("alice", "analyst", issued.info.token_id)
    assert store.authenticate(issued.token, now=now + dt.timedelta(hours=2)) is None  # expired
    # any single changed character of the token is refused
    for position in range(len(issued.token)):
        changed = issued.token[:position] + ("x" if issued.token[position] != "x" else "y") + issued.token[position + 1:]
        assert store.authenticate(changed, now=now) is None, position
    assert store.authenticate(issued.token + "x", now=now) is None
    assert store.authenticate("", now=now) is None

    store.revoke(issued.info.token_id, now=now + dt.timedelta(minutes=2))
    assert store.authenticate(issued.token, now=now + dt.timedelta(minutes=3)) is None
    assert store.token(issued.info.token_id).revoked_at == "2026-01-01T00:02:00+00:00"

    # only the secret's hash is stored
    with sqlite3.connect(store.path) as connection:
        dump = "\n".join(connection.iterdump())
    secret = issued.token[len(f"jpk_{issued.info.token_id}_"):]
    assert secret not in dump and issued.token not in dump


def test_refusals(tmp_path):
    store = AccessStore(tmp_path / "access.sqlite3")
    with pytest.raises(TokenError, match="subject 'Alice Smith' must be"):
        store.issue("Alice Smith", "analyst")
    with pytest.raises(TokenError, match="role 'root' is not one of analyst, auditor, admin"):
        store.issue("alice", "root")
    with pytest.raises(TokenError, match="no token with id 'abc'"):
        store.revoke("abc")
    assert parse_duration("12h") == dt.timedelta(hours=12) and parse_duration("30d") == dt.timedelta(days=30)
    with pytest.raises(TokenError, match="positive number followed by d, h, m or s"):
        parse_duration("0d")


def test_the_audit_table_is_append_only(tmp_path):
    store = AccessStore(tmp_path / "access.sqlite3")
    store.audit(request_id="r1", subject="alice", role="analyst", action="card.submit", target="x", outcome="accepted")
    total, entries = store.audit_entries()
    assert total == 1 and entries[0].outcome == "accepted" and entries[0].request_id == "r1"
    with sqlite3.connect(store.path) as connection, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        connection.execute("DELETE FROM audit")
    with sqlite3.connect(store.path) as connection, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        connection.execute("UPDATE audit SET outcome = 'refused'")


def test_the_cli_issues_lists_and_revokes_tokens(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JACKPOT_DATA_DIR", str(tmp_path / "data"))
    assert main(["token", "issue", "--subject", "alice", "--role", "auditor", "--expires-in", "12h"]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    store = AccessStore.under(tmp_path / "data")
    assert store.path == tmp_path / "data" / "api" / "access.sqlite3"
    principal = store.authenticate(token)
    assert (principal.subject, principal.role) == ("alice", "auditor")
    assert "shown only now" in err and token not in err

    assert main(["token", "list"]) == 0
    listing = capsys.readouterr().out
    assert principal.token_id in listing and "auditor" in listing and token not in listing

    assert main(["token", "revoke", principal.token_id]) == 0
    assert "revoked" in capsys.readouterr().out
    assert store.authenticate(token) is None
    assert main(["token", "revoke", "feedfacefeedface"]) == 2
    assert "no token with id 'feedfacefeedface'" in capsys.readouterr().err
    assert main(["token", "issue", "--subject", "bob", "--role", "analyst", "--expires-in", "soon"]) == 2

    _, entries = store.audit_entries()
    assert [(e.action, e.outcome, e.target) for e in entries] == [
        ("token.issue", "issued", principal.token_id), ("token.revoke", "revoked", principal.token_id)]
    assert all(e.role == "admin" and e.subject.startswith("cli_") for e in entries)
