"""The whole code location loads, through Python and through Dagster's own CLIs."""

import os
import subprocess
import sys
from pathlib import Path

from dagster import AssetKey

from jackpot_pipeline.definitions import defs

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_definitions_hold_the_ingestion_graph():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"raw_matches", "canonical_matches", "quarantined_rows", "ingestion_log", "teams"} <= keys
    checks = {key.name for key in graph.asset_check_keys if key.asset_key == AssetKey("canonical_matches")}
    assert checks == {"unique_match_id", "goals_consistent", "odds_plausible", "dates_in_season", "rows_accounted"}
    assert graph.get(AssetKey("canonical_matches")).partitions_def.name == "league_season"
    assert AssetKey("raw_matches") in graph.get(AssetKey("canonical_matches")).parent_keys
    assert {sensor.name for sensor in defs.sensors} >= {"new_csv_sensor"}


def test_dagster_clis_load_the_code_location(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "JACKPOT_DATA_DIR": str(tmp_path / "data")}
    (tmp_path / "dagster.yaml").write_text((PROJECT_ROOT / "deploy" / "dagster.yaml").read_text())
    dg = subprocess.run([str(BIN / "dg"), "check", "defs"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert dg.returncode == 0, dg.stdout + dg.stderr
    assert "All definitions loaded successfully" in dg.stdout + dg.stderr
    validate = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
