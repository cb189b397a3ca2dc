"""Reads from PostgreSQL under the caller's database role: row-level security is the second wall. Two analysts'
jackpots (the sample's finalised rows under two ids and owners) are published to a fresh database; each analyst's
query, even with the application's owner filter removed, sees only their own rows."""

from __future__ import annotations

import httpx
import pytest

from jackpot_pipeline.api.access import AccessStore, Principal
from jackpot_pipeline.api.app import API_PREFIX, create_app
from jackpot_pipeline.api.postgres_reads import PostgresReads
from jackpot_pipeline.jackpots.finalise import read_finalised
from jackpot_pipeline.publish.jackpots import publish_jackpot
from jackpot_pipeline_tests.defs.modeled import SAMPLE_ID
from jackpot_pipeline_tests.publish.conftest import database, migrated  # noqa: F401 - the shared fixtures

pytestmark = pytest.mark.postgres


def publish_as(connection, modeled, jackpot_id: str, owner: str) -> int:
    jackpot, predictions = read_finalised(modeled.store, SAMPLE_ID)
    jackpot = {**jackpot, "jackpot_id": jackpot_id, "owner": owner}
    result = publish_jackpot(connection, jackpot, predictions.assign(jackpot_id=jackpot_id))
    return result.extra["predictions"]


def test_an_analyst_sees_only_their_rows_even_without_the_application_filter(migrated, modeled, tmp_path):
    alice_role, bob_role = f"{migrated.prefix}alice", f"{migrated.prefix}bob"
    with migrated.connect() as connection:
        assert publish_as(connection, modeled, "alice_card", alice_role) == 15 * 7
        assert publish_as(connection, modeled, "bob_card", bob_role) == 15 * 7
    reads = PostgresReads(migrated.dsn, migrated.roles)
    alice = Principal(alice_role, "analyst", "0" * 16)
    bob = Principal(bob_role, "analyst", "1" * 16)
    auditor = Principal("carol", "auditor", "2" * 16)

    for owner_filter in (True, False):
        assert [j["jackpot_id"] for j in reads.jackpots(alice, owner_filter=owner_filter)] == ["alice_card"]
        assert [j["owner"] for j in reads.jackpots(bob, owner_filter=owner_filter)] == [bob_role]
        assert len(reads.jackpot_predictions(alice, "alice_card", owner_filter=owner_filter)) == 15 * 7
        assert reads.jackpot_predictions(alice, "bob_card", owner_filter=owner_filter) == []
        assert reads.jackpot_predictions(bob, "alice_card", owner_filter=owner_filter) == []
    assert [j["jackpot_id"] for j in reads.jackpots(auditor)] == ["alice_card", "bob_card"]
    assert all(j["n_fixtures"] == 15 for j in reads.jackpots(auditor))

    # the queries really ran as the analyst's role, and that role can write nothing
    with reads.session(alice) as connection:
        assert connection.execute("SELECT current_user AS who").fetchone()["who"] == alice_role
        unfiltered = connection.execute("SELECT count(*) AS n FROM jackpot.match_predictions WHERE jackpot_id IS NOT NULL").fetchone()
        assert unfiltered["n"] == 15 * 7
    with pytest.raises(Exception, match="read-only transaction"), reads.session(alice) as connection:
        connection.execute("DELETE FROM jackpot.jackpots")

    # and through the API: the /published reads answer per database role
    access = AccessStore(tmp_path / "access.sqlite3")
    tokens = {who: access.issue(role, kind).token for who, role, kind in
              (("alice", alice_role, "analyst"), ("bob", bob_role, "analyst"), ("carol", "carol", "auditor"))}
    app = create_app(modeled.settings, access=access, instance_factory=lambda: modeled.instance, launch="never",
                     postgres=reads)
    transport = httpx.ASGITransport(app=app)

    async def get(who: str, path: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await client.get(API_PREFIX + path, headers={"Authorization": f"Bearer {tokens[who]}"})

    import asyncio

    listed = asyncio.run(get("bob", "/published/jackpots")).json()["jackpots"]
    assert [j["jackpot_id"] for j in listed] == ["bob_card"]
    assert asyncio.run(get("bob", "/published/jackpots/alice_card/predictions")).status_code == 404
    assert len(asyncio.run(get("alice", "/published/jackpots/alice_card/predictions")).json()["predictions"]) == 105
    assert len(asyncio.run(get("carol", "/published/jackpots")).json()["jackpots"]) == 2
