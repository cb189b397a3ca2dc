"""``trace``: from a finalised prediction back to the raw CSV bytes it was fitted on, and what it says when
part of the lineage cannot be found. The sample was finalised by the session's setup, so every test sees
the same lineage whatever ran before it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
from dagster import instance_for_test

from jackpot_pipeline.defs.jackpots.trace import TraceError, format_trace, trace_jackpot
from jackpot_pipeline.settings import PROJECT_ROOT
from jackpot_pipeline_tests.defs.modeled import LEAGUES, SAMPLE_CARD, SAMPLE_ID, SEASONS


def sha256_of(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_trace_reaches_the_raw_files_of_every_fixture(modeled):
    trace = trace_jackpot(modeled.settings, modeled.instance, SAMPLE_ID)
    json.dumps(trace, allow_nan=False)  # the --json output

    jackpot = trace["jackpot"]
    finalising = modeled.setup_run(f"jackpot_predictions {SAMPLE_ID}")["run_id"]
    assert jackpot["card_sha256"] == sha256_of(SAMPLE_CARD)
    assert jackpot["run_id"] == finalising and trace["run"]["status"] == "SUCCESS"
    assert trace["run"]["job_name"] == "jackpot_job" and trace["run"]["tags"]["dagster/partition"] == SAMPLE_ID
    assert trace["materialization"]["run_id"] == finalising

    assert [f["position"] for f in trace["fixtures"]] == list(range(1, 16))
    raw_files = {}
    for fixture in trace["fixtures"]:
        snapshot = trace["snapshots"][fixture["snapshot"]]
        assert snapshot["model_version"] == fixture["model_version"] and snapshot["in_warehouse"]
        assert snapshot["training_matches"] > 900 and snapshot["training_seasons"] == list(SEASONS)
        # the batched walk-forward run recorded each partition's own inputs
        assert snapshot["materialization"]["run_id"] == modeled.setup_run("walk_forward D1|2122..SP1|2324 (15)")["run_id"]
        assert [item["partition"] for item in snapshot["inputs"]] == [f"{fixture['league']}|{s}" for s in SEASONS]
        for item in snapshot["inputs"]:
            assert item["canonical_matches_agree"] and item["raw_file"]["current_sha256_matches"]
            assert item["ingestion"]["change"] == "new"
            raw_files[item["ingestion"]["source_path"]] = item["source_sha256"]
        calibration = trace["calibrations"][fixture["calibration"]]
        assert calibration["current_row_matches"] and calibration["cutoff_date"] == "2023-07-01"
        assert calibration["trained_on_end"] < "2023-07-01"
        assert set(calibration["input_data_versions"]) >= {f"uncalibrated_predictions[{lg}|2223]" for lg in LEAGUES}
    # every raw file the 15 predictions rest on, with the sha256 of the real shared bytes
    assert raw_files == {
        f"mmz4281/{season}/{league}.csv": sha256_of(modeled.shared / "mmz4281" / season / f"{league}.csv")
        for league in LEAGUES for season in SEASONS
    }

    one = trace_jackpot(modeled.settings, modeled.instance, SAMPLE_ID, fixture=4)
    assert [f["position"] for f in one["fixtures"]] == [4] and list(one["snapshots"]) == ["E0|2324@2024-05-13"]
    text = format_trace(one)
    assert text.startswith(f"jackpot {SAMPLE_ID}:")
    assert "fixture 4: Brighton & Hove Albion v Manchester United -> Brighton v Man United" in text
    assert f"mmz4281/2324/E0.csv sha256 {sha256_of(modeled.shared / 'mmz4281/2324/E0.csv')}" in text
    assert "file on disk unchanged" in text
    assert "calibration " in text and "cut-off 2023-07-01" in text
    # the form and baselines of the fixture's league-season, down to the canonical partitions they read
    features = one["features"]["E0|2324"]
    for asset in ("team_form_features", "league_baselines"):
        assert features[asset]["inputs"].keys() == {"E0|2223", "E0|2324"} and features[asset]["data_version"]
        assert f"{asset}[E0|2324] data version {features[asset]['data_version']}" in text
    assert features["team_form_features"]["rows"] == 760


def test_trace_says_what_it_cannot_find(modeled):
    with pytest.raises(TraceError, match="'no_such_jackpot' has not been finalised"):
        trace_jackpot(modeled.settings, modeled.instance, "no_such_jackpot")
    with pytest.raises(TraceError, match="fixtures 1 to 15, not 16"):
        trace_jackpot(modeled.settings, modeled.instance, SAMPLE_ID, fixture=16)

    # another instance (its runs pruned, say): the warehouse's rows are still there, the run history is not
    with instance_for_test() as elsewhere:
        trace = trace_jackpot(modeled.settings, elsewhere, SAMPLE_ID, fixture=1)
    assert trace["run"] is None and trace["materialization"] is None
    (snapshot,) = trace["snapshots"].values()
    assert snapshot["in_warehouse"] and snapshot["inputs"] == []
    assert snapshot["problem"] == f"no materialization of team_strength_snapshots[{snapshot['league']}|2324] before the jackpot in this instance"
    text = format_trace(trace)
    assert "(not in this Dagster instance)" in text and f"! {snapshot['problem']}" in text

    # a raw file edited since: traced to the bytes that were ingested, and the change is said
    raw = modeled.raw / "mmz4281/2223/E0.csv"
    original = raw.read_bytes()
    try:
        raw.write_bytes(original + b"\r\n")
        trace = trace_jackpot(modeled.settings, modeled.instance, SAMPLE_ID, fixture=4)
    finally:
        raw.write_bytes(original)
    (item,) = [i for s in trace["snapshots"].values() for i in s["inputs"] if i["partition"] == "E0|2223"]
    assert item["source_sha256"] == sha256_of(modeled.shared / "mmz4281/2223/E0.csv")
    assert item["raw_file"] == {"path": str(raw), "exists": True, "current_sha256_matches": False}
    assert "file on disk CHANGED since" in format_trace(trace)


def test_the_trace_command_prints_the_lineage(modeled):
    """``jackpot-pipeline trace`` against the same warehouse and instance."""
    env = {"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(modeled.instance.root_directory),
           "JACKPOT_DATA_DIR": str(modeled.settings.data_dir)}
    shown = subprocess.run([sys.executable, "-m", "jackpot_pipeline.cli", "trace", SAMPLE_ID, "--fixture", "6", "--json"],
                           cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr[-2000:]
    lineage = json.loads(shown.stdout)
    assert [f["home_team"] for f in lineage["fixtures"]] == ["Man City"]
    assert lineage["jackpot"]["run_id"] == modeled.setup_run(f"jackpot_predictions {SAMPLE_ID}")["run_id"]
    missing = subprocess.run([sys.executable, "-m", "jackpot_pipeline.cli", "trace", "no_such_jackpot"],
                             cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "'no_such_jackpot' has not been finalised" in missing.stderr
