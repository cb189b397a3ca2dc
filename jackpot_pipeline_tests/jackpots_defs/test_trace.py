"""``trace``: from a finalised prediction back to the raw CSV bytes it was fitted on."""

from __future__ import annotations

import hashlib
import json

import pytest

from jackpot_pipeline.defs.jackpots import TraceError, format_trace, trace_jackpot
from jackpot_pipeline_tests.jackpots_defs.conftest import LEAGUES, SAMPLE_CARD, SAMPLE_ID, SEASONS


def test_trace_reaches_the_raw_files_of_every_fixture(modeled):
    result = modeled.finalise_sample()
    trace = trace_jackpot(modeled.settings, modeled.instance, SAMPLE_ID)
    json.dumps(trace, allow_nan=False)  # the --json output

    jackpot = trace["jackpot"]
    assert jackpot["card_sha256"] == hashlib.sha256(SAMPLE_CARD.read_bytes()).hexdigest()
    finalising_run = modeled.sql("SELECT run_id FROM jackpots WHERE jackpot_id = ?", [SAMPLE_ID])["run_id"][0]
    assert jackpot["run_id"] == finalising_run and trace["run"]["status"] == "SUCCESS"
    assert trace["run"]["job_name"] == "jackpot_job"
    assert trace["materialization"]["run_id"] == finalising_run
    if result.run_id != finalising_run:  # the sample was finalised by an earlier test: this run was a no-op
        assert trace["materialization"]["run_id"] != result.run_id

    assert [f["position"] for f in trace["fixtures"]] == list(range(1, 16))
    raw_files = {}
    for fixture in trace["fixtures"]:
        snapshot = trace["snapshots"][fixture["snapshot"]]
        assert snapshot["model_version"] == fixture["model_version"] and snapshot["in_warehouse"]
        assert snapshot["training_matches"] > 900 and snapshot["training_seasons"] == list(SEASONS)
        assert [item["partition"] for item in snapshot["inputs"]] == [f"{fixture['league']}|{s}" for s in SEASONS]
        for item in snapshot["inputs"]:
            assert item["canonical_matches_agree"] and item["raw_file"]["current_sha256_matches"]
            raw_files[item["ingestion"]["source_path"]] = item["source_sha256"]
        calibration = trace["calibrations"][fixture["calibration"]]
        assert calibration["current_row_matches"] and calibration["cutoff_date"] == "2023-07-01"
        assert calibration["trained_on_end"] < "2023-07-01"
    # every raw file the 15 predictions rest on, with the sha256 of the real shared bytes
    assert raw_files == {
        f"mmz4281/{season}/{league}.csv": hashlib.sha256((modeled.shared / "mmz4281" / season / f"{league}.csv").read_bytes()).hexdigest()
        for league in LEAGUES for season in SEASONS
    }

    one = trace_jackpot(modeled.settings, modeled.instance, SAMPLE_ID, fixture=4)
    assert [f["position"] for f in one["fixtures"]] == [4] and list(one["snapshots"]) == ["E0|2324@2024-05-13"]
    text = format_trace(one)
    assert text.startswith(f"jackpot {SAMPLE_ID}:")
    assert "fixture 4: Brighton & Hove Albion v Manchester United -> Brighton v Man United" in text
    e0_2324 = hashlib.sha256((modeled.shared / "mmz4281/2324/E0.csv").read_bytes()).hexdigest()
    assert f"mmz4281/2324/E0.csv sha256 {e0_2324}" in text
    assert "calibration " in text and "cut-off 2023-07-01" in text
    print("\n" + text)


def test_trace_says_what_it_cannot_find(modeled):
    modeled.finalise_sample()
    with pytest.raises(TraceError, match="'no_such_jackpot' has not been finalised"):
        trace_jackpot(modeled.settings, modeled.instance, "no_such_jackpot")
    with pytest.raises(TraceError, match="fixtures 1 to 15, not 16"):
        trace_jackpot(modeled.settings, modeled.instance, SAMPLE_ID, fixture=16)
