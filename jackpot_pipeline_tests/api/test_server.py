"""The API against a running uvicorn server over the modeled warehouse: a card posted through the API is predicted
by the jackpot assets, and what the API returns is what they stored; invalid cards, conflicts and idempotent
re-posts; tokens, roles and ownership; the audit table; no token in any log line."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import httpx
import pytest
from dagster import AssetKey

from jackpot_pipeline.api.app import API_PREFIX
from jackpot_pipeline.jackpots.cards import load_card, parse_card
from jackpot_pipeline_tests.defs.modeled import SAMPLE_ID, bad_card_bytes, card_as

SETS = ["A", "B", "C", "D", "E", "F", "G"]
JSON = {"Content-Type": "application/json"}


def audit_rows(server) -> list[dict]:
    _, entries = server.access.audit_entries(limit=100_000)
    return [entry.to_dict() for entry in entries]


def test_a_posted_card_is_predicted_by_the_jackpot_assets(api_server):
    alice = api_server.token("alice", "analyst")
    jackpot_id = api_server.new_id("alice")
    audit_before = len(audit_rows(api_server))
    writes: list[httpx.Response] = []
    try:
        with api_server.client(alice) as client:
            posted = api_server.submit_sample(client, jackpot_id)
            writes.append(posted)
            assert posted.status_code == 202, posted.text
            receipt = posted.json()
            assert receipt["status"] == "pending" and receipt["owner"] == "alice"
            assert receipt["poll"] == f"{API_PREFIX}/jackpots/{jackpot_id}" == posted.headers["Location"]
            assert receipt["prediction_by"] == "launched"
            # the card is a file where the pipeline reads cards, owned by the submitter
            stored_card = load_card(api_server.workspace.cards / f"{jackpot_id}.json")
            assert stored_card.owner == "alice" and stored_card.n_fixtures == 15

            status = api_server.wait_finalised(client, jackpot_id)
            assert status["status"] == "finalised", status
            assert status["owner"] == "alice" and status["n_fixtures"] == 15
            assert status["card_sha256"] == receipt["card_sha256"] == stored_card.sha256

            predictions = client.get(f"/jackpots/{jackpot_id}/predictions")
            assert predictions.status_code == 200
            body = predictions.json()
            assert body["n_fixtures"] == 15 and body["owner"] == "alice"
            stored = api_server.workspace.sql(
                "SELECT * FROM jackpot_predictions WHERE jackpot_id = ? ORDER BY position, set_id", [jackpot_id])
            assert len(stored) == 15 * 7
            by_key = {(row.position, row.set_id): row for row in stored.itertuples()}
            for fixture in body["fixtures"]:
                assert sorted(fixture["sets"]) == SETS
                assert fixture["snapshot"]["model_version"] and fixture["calibration_version"]
                assert fixture["explanation"]
                for set_id, entry in fixture["sets"].items():
                    p = entry["probabilities"]
                    assert abs(p["home"] + p["draw"] + p["away"] - 1) < 1e-9
                    row = by_key[(fixture["position"], set_id)]
                    # exactly what the jackpot_predictions asset stored
                    assert (p["home"], p["draw"], p["away"]) == (row.prob_home, row.prob_draw, row.prob_away)
                    assert entry["pick"] == row.pick and entry["confidence"] == row.confidence
                    assert entry["flags"] == [f for f in row.flags.split(",") if f]
                    assert fixture["snapshot"]["model_version"] == row.model_version
                    assert fixture["calibration_version"] == row.calibration_version
            assert [f["position"] for f in body["fixtures"]] == list(range(1, 16))

            # a materialisation of the jackpot asset, by a run of the jackpot job, with the card's lineage
            record = api_server.workspace.instance.get_latest_data_version_record(
                AssetKey("jackpot_predictions"), partition_key=jackpot_id)
            assert record is not None and record.run_id == status["run_id"]
            run = api_server.workspace.instance.get_run_by_id(status["run_id"])
            assert run.job_name == "jackpot_job" and run.tags["jackpot/trigger"] == "make run"

            tickets = client.get(f"/jackpots/{jackpot_id}/tickets").json()
            export = json.loads((api_server.workspace.exports / f"{jackpot_id}.json").read_text())
            assert tickets["tickets"] == export["tickets"] and sorted(tickets["tickets"]["sets"]) == SETS
            assert export["jackpot"]["owner"] == "alice"

            trace = client.get(f"/jackpots/{jackpot_id}/trace")
            assert trace.status_code == 200
            lineage = trace.json()
            assert lineage["jackpot"]["owner"] == "alice" and lineage["jackpot"]["run_id"] == status["run_id"]
            assert [f["position"] for f in lineage["fixtures"]] == list(range(1, 16))

            exported = client.get(f"/jackpots/{jackpot_id}/export.csv")
            assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
            rows = list(csv.DictReader(io.StringIO(exported.text)))
            assert len(rows) == 15 * 7 and {r["jackpot_id"] for r in rows} == {jackpot_id}

            warehouse_row = api_server.workspace.sql("SELECT owner FROM jackpots WHERE jackpot_id = ?", [jackpot_id])
            assert warehouse_row["owner"].tolist() == ["alice"]

            # the same card again changes nothing; the id with other content is refused, nothing touched
            before = api_server.workspace.stored_bytes(jackpot_id)
            card_file = (api_server.workspace.cards / f"{jackpot_id}.json").read_bytes()
            again = api_server.submit_sample(client, jackpot_id)
            writes.append(again)
            assert again.status_code == 200 and again.json()["status"] == "finalised"
            assert again.json()["prediction_by"] == "done"
            changed = json.loads(card_as(jackpot_id))
            changed["fixtures"][0]["odds"]["home"] = 3.1
            conflict = client.post("/jackpots", json=changed)
            writes.append(conflict)
            assert conflict.status_code == 409
            assert conflict.json()["error"] == "conflict" and jackpot_id in conflict.json()["reason"]
            assert api_server.workspace.stored_bytes(jackpot_id) == before
            assert (api_server.workspace.cards / f"{jackpot_id}.json").read_bytes() == card_file

            my_cards = client.get("/jackpots").json()["jackpots"]
            assert [c["jackpot_id"] for c in my_cards] == [jackpot_id]  # not the sample: it has no owner

        # one audit row per write, with the request's id and outcome
        rows = audit_rows(api_server)[audit_before:]
        mine = [row for row in rows if row["subject"] == "alice"]
        assert [(r["request_id"], r["outcome"]) for r in mine] == [
            (writes[0].headers["X-Request-ID"], "accepted"), (writes[1].headers["X-Request-ID"], "unchanged"),
            (writes[2].headers["X-Request-ID"], "conflict")]
        assert {(r["action"], r["role"], r["target"]) for r in mine} == {("card.submit", "analyst", jackpot_id)}
    finally:
        api_server.forget(jackpot_id)
    assert api_server.leaked() == []


def test_an_invalid_card_is_422_naming_the_field_and_stores_nothing(api_server):
    alice = api_server.token("alice", "analyst")
    jackpot_id = api_server.new_id("bad")
    with api_server.client(alice) as client:
        refused = client.post("/jackpots", content=bad_card_bytes(jackpot_id), headers=JSON)
        assert refused.status_code == 422
        body = refused.json()
        # the card module's own message, with the field path of the JSON body
        with pytest.raises(Exception) as expected:
            parse_card(bad_card_bytes(jackpot_id), "request body", card_format="json")
        assert body["reason"] == str(expected.value)
        assert body["reason"] == "request body, fixture 3, field 'odds.draw': odds 0.5 outside [1.01, 1000]"
        assert body["detail"] == [{"loc": ["body", "fixtures", 2, "odds", "draw"], "msg": "odds 0.5 outside [1.01, 1000]"}]

        missing = client.post("/jackpots", json={"jackpot_id": jackpot_id, "fixtures": []})
        assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "name"]
        assert "missing key(s) name" in missing.json()["reason"]
        duplicate = client.post("/jackpots", content=b'{"jackpot_id": "a", "jackpot_id": "b"}', headers=JSON)
        assert duplicate.status_code == 422 and "appears twice" in duplicate.json()["reason"]
        not_json = client.post("/jackpots", content=b"\xff\xfe garbage", headers=JSON)
        assert not_json.status_code == 422 and "not UTF-8" in not_json.json()["reason"]
        someone_else = json.loads(card_as(jackpot_id))
        someone_else["owner"] = "bob"
        impostor = client.post("/jackpots", json=someone_else)
        assert impostor.status_code == 422 and impostor.json()["detail"][0]["loc"] == ["body", "owner"]
        huge = client.post("/jackpots", content=b" " * (300 * 1024) + card_as(jackpot_id), headers=JSON)
        assert huge.status_code == 413 and huge.json()["error"] == "body_too_large"
    assert not (api_server.workspace.cards / f"{jackpot_id}.json").exists()
    assert not api_server.workspace.store.exists("jackpots", jackpot_id)
    assert api_server.leaked() == []


def protected_operations(server) -> list[tuple[str, str]]:
    """Every operation of the app's own OpenAPI document except the ones meant to be public."""
    document = httpx.get(server.url + "/openapi.json").json()
    operations = []
    for path, methods in document["paths"].items():
        for method in methods:
            if (method, path) != ("get", f"{API_PREFIX}/system/health"):
                operations.append((method, path))
    return operations


def concrete(path: str) -> str:
    return path.replace("{jackpot_id}", SAMPLE_ID).replace("{token_id}", "0123456789abcdef")


def test_no_token_is_401_on_every_protected_operation(api_server):
    operations = protected_operations(api_server)
    assert len(operations) >= 13
    admin = api_server.token("root", "admin")
    expired = api_server.token("old", "admin", lifetime=dt.timedelta(days=1),
                               now=dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
    revoked = api_server.token("gone", "admin")
    with api_server.client(admin) as client:
        assert client.delete(f"/tokens/{revoked.split('_')[1]}").status_code == 200
    tampered = [admin[:i] + ("A" if admin[i] != "A" else "B") + admin[i + 1:] for i in (0, 5, 12, 25, len(admin) - 1)]
    bad_headers = [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic cm9vdDpyb290"},
                   {"Authorization": f"Bearer {expired}"}, {"Authorization": f"Bearer {revoked}"},
                   *({"Authorization": f"Bearer {token}"} for token in tampered)]
    for method, path in operations:
        for headers in bad_headers:
            response = httpx.request(method.upper(), api_server.url + concrete(path), headers=headers,
                                     json={} if method in ("post", "put") else None)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.json()["error"] == "unauthorized"
            assert response.headers["WWW-Authenticate"] == "Bearer"
    health = httpx.get(api_server.url + f"{API_PREFIX}/system/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert health.json()["dagster"]["daemon_running"] is False
    assert api_server.leaked() == []


def test_roles_and_ownership(api_server):
    alice, bob = api_server.token("alice", "analyst"), api_server.token("bob", "analyst")
    auditor = api_server.token("carol", "auditor")
    jackpot_id = api_server.new_id("owned")
    audit_before = len(audit_rows(api_server))
    try:
        with api_server.client(alice) as as_alice, api_server.client(bob) as as_bob, \
                api_server.client(auditor) as as_auditor:
            forbidden = api_server.submit_sample(as_auditor, api_server.new_id("auditor"))
            assert forbidden.status_code == 403 and forbidden.json()["error"] == "forbidden"
            assert as_auditor.post("/tokens", json={"subject": "eve", "role": "admin"}).status_code == 403
            assert as_alice.get("/audit").status_code == 403 and as_alice.get("/tokens").status_code == 403

            assert api_server.submit_sample(as_alice, jackpot_id).status_code == 202
            assert api_server.wait_finalised(as_alice, jackpot_id)["status"] == "finalised"

            nowhere = as_bob.get("/jackpots/no_such_card").json()
            for suffix in ("", "/predictions", "/tickets", "/trace", "/export.csv"):
                assert as_alice.get(f"/jackpots/{jackpot_id}{suffix}").status_code == 200
                assert as_auditor.get(f"/jackpots/{jackpot_id}{suffix}").status_code == 200
                hidden = as_bob.get(f"/jackpots/{jackpot_id}{suffix}")
                # exactly what a card that does not exist gives
                assert hidden.status_code == 404
                body = hidden.json()
                assert (body["error"], body["reason"]) == ("not_found", f"no jackpot {jackpot_id!r}")
                assert as_bob.get(f"/jackpots/no_such_card{suffix}").json()["reason"] == nowhere["reason"]
                # the sample card has no owner: no analyst sees it, the auditor does
                assert as_alice.get(f"/jackpots/{SAMPLE_ID}{suffix}").status_code == 404
                assert as_auditor.get(f"/jackpots/{SAMPLE_ID}{suffix}").status_code == 200
            assert [c["jackpot_id"] for c in as_bob.get("/jackpots").json()["jackpots"]] == []
            everything = {c["jackpot_id"] for c in as_auditor.get("/jackpots").json()["jackpots"]}
            assert {SAMPLE_ID, jackpot_id} <= everything
            # bob cannot overwrite it either: the id exists with other content
            assert api_server.submit_sample(as_bob, jackpot_id).status_code == 409

            audit = as_auditor.get("/audit", params={"limit": 1000}).json()
            assert audit["total"] == len(audit_rows(api_server))
        rows = audit_rows(api_server)[audit_before:]
        assert [(r["subject"], r["role"], r["action"], r["outcome"]) for r in rows] == [
            ("carol", "auditor", "card.submit", "forbidden"), ("carol", "auditor", "token.issue", "forbidden"),
            ("alice", "analyst", "card.submit", "accepted"), ("bob", "analyst", "card.submit", "conflict")]
    finally:
        api_server.forget(jackpot_id)
    assert api_server.leaked() == []


def test_tokens_through_the_api(api_server):
    admin = api_server.token("root", "admin")
    audit_before = len(audit_rows(api_server))
    with api_server.client(admin) as client:
        issued = client.post("/tokens", json={"subject": "dave", "role": "analyst", "expires_in": "1h"})
        assert issued.status_code == 201
        token, info = issued.json()["token"], issued.json()["info"]
        api_server.issued.append(token)
        assert info["subject"] == "dave" and info["created_by"] == "root"
        expires = dt.datetime.fromisoformat(info["expires_at"]) - dt.datetime.fromisoformat(info["created_at"])
        assert expires == dt.timedelta(hours=1)
        listed = client.get("/tokens").json()["tokens"]
        assert info["token_id"] in {t["token_id"] for t in listed} and token not in json.dumps(listed)
        with api_server.client(token) as as_dave:
            assert as_dave.get("/jackpots").status_code == 200
            assert client.delete(f"/tokens/{info['token_id']}").status_code == 200
            assert as_dave.get("/jackpots").status_code == 401
        assert client.delete("/tokens/0000000000000000").status_code == 404
        bad = client.post("/tokens", json={"subject": "Not A Role Name", "role": "analyst"})
        assert bad.status_code == 422
    rows = audit_rows(api_server)[audit_before:]
    assert [(r["action"], r["outcome"], r["target"]) for r in rows] == [
        ("token.issue", "issued", info["token_id"]), ("token.revoke", "revoked", info["token_id"]),
        ("token.revoke", "not_found", "0000000000000000")]
    assert api_server.leaked() == []


def test_shared_tables(api_server):
    analyst = api_server.token("alice", "analyst")
    with api_server.client(analyst) as client:
        page = client.get("/predictions", params={"league": "E0", "season": "2324", "team": "Arsenal", "set_id": "B"})
        assert page.status_code == 200
        body = page.json()
        # Arsenal's 38 league matches of 2023/24, minus the warm-up before the model predicts
        expected = api_server.workspace.sql(
            "SELECT count(*) AS n FROM match_predictions WHERE league = 'E0' AND season = '2324' AND set_id = 'B' "
            "AND (home_team = 'Arsenal' OR away_team = 'Arsenal')")["n"].iloc[0]
        assert body["total"] == expected and 30 <= expected <= 38
        assert all("Arsenal" in (item["home_team"], item["away_team"]) for item in body["items"])
        assert all(abs(i["prob_home"] + i["prob_draw"] + i["prob_away"] - 1) < 1e-9 for i in body["items"])
        second = client.get("/predictions", params={"league": "E0", "season": "2324", "limit": 10, "offset": 10}).json()
        first = client.get("/predictions", params={"league": "E0", "season": "2324", "limit": 20}).json()
        assert second["items"] == first["items"][10:20]
        dated = client.get("/predictions", params={"date_from": "2024-05-19", "date_to": "2024-05-19", "set_id": "A"}).json()
        on_the_day = api_server.workspace.sql(
            "SELECT league, home_team, away_team FROM canonical_matches WHERE match_date = DATE '2024-05-19' "
            "ORDER BY league, home_team")
        assert {"E0", "F1"} <= set(on_the_day["league"])  # the last matchday of both
        assert sorted((i["league"], i["home_team"], i["away_team"]) for i in dated["items"]) == \
            [tuple(row) for row in on_the_day.itertuples(index=False)]
        assert client.get("/predictions", params={"date_from": "2024-02-30"}).status_code == 422

        health = client.get("/models/health").json()["leagues"]
        assert [h["league"] for h in health] == ["D1", "E0", "F1", "I1", "SP1"]
        for league in health:
            assert league["status"] in ("healthy", "warning", "critical")
            assert league["rps_vs_market_se"] > 0 and league["latest_season"] == "2324"
            assert league["drift"]["latest_season"] == "2324" and league["reliability"]["H"]["count"]
        freshness = client.get("/data/freshness").json()["leagues"]
        assert [f["league"] for f in freshness] == ["D1", "E0", "F1", "I1", "SP1"]
        assert {f["last_match_date"][:4] for f in freshness} == {"2024"}
