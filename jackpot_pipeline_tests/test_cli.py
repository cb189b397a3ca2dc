"""``jackpot-pipeline run`` as a person runs it, with its output going to a pipe (not a terminal): one line per
stage, then the closing summary, whose numbers are the warehouse's; ``summary`` prints it again, ``--json``
for machines; a second run on unchanged files computes nothing.

The publisher's files come from a ``file://`` copy of four shared files in which one file has a repeated
header line and two duplicated match lines, so the summary has quarantine reasons to report.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jackpot_pipeline.run_summary import PLAYABLE_SETS
from jackpot_pipeline.warehouse.store import Warehouse

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent / "jackpot-pipeline"
FILES = ("mmz4281/2223/E0.csv", "mmz4281/2324/E0.csv", "mmz4281/2223/E1.csv", "mmz4281/2324/E1.csv")
DAMAGED = "mmz4281/2223/E1.csv"
STAGE_LINES = ("fetch", "ingest", "walk-forward", "calibration", "predictions", "validation", "form", "tables",
               "jackpots")


class Project:
    def __init__(self, root: Path, shared: Path):
        self.root, self.data = root, root / "data"
        publisher = root / "publisher"
        for relpath in FILES:
            target = publisher / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shared / relpath, target)
        original = (publisher / DAMAGED).read_bytes()
        separator = b"\r\n" if b"\r\n" in original else b"\n"
        lines = original.split(separator)
        # the header again after line 10; matches 3 and 4 again after line 20
        (publisher / DAMAGED).write_bytes(separator.join([*lines[:10], lines[0], *lines[10:20], lines[3], lines[4],
                                                          *lines[20:]]))
        (self.data / "jackpots").mkdir(parents=True)
        shutil.copyfile(PROJECT_ROOT / "data" / "jackpots" / "sample_2324_final.json",
                        self.data / "jackpots" / "sample_2324_final.json")
        self.env = {**os.environ, "DAGSTER_HOME": str(root / "home"), "JACKPOT_DATA_DIR": str(self.data),
                    "JACKPOT_LEAGUES": "E0,E1", "JACKPOT_SEASONS": "2223-2324",
                    "FOOTBALL_DATA_URL": publisher.as_uri(), "COLUMNS": "200"}
        for variable in ("JACKPOT_PG_DSN", "JACKPOT_INSTANCE", "JACKPOT_WAREHOUSE_URL"):
            self.env.pop(variable, None)

    def cli(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run([str(CLI), *args], cwd=self.root, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    @property
    def store(self) -> Warehouse:
        return Warehouse(self.data / "warehouse")


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_data):
    project = Project(tmp_path_factory.mktemp("cli"), shared_data)
    project.first = project.cli("run")
    project.summary = project.cli("summary")
    project.summary_json = project.cli("summary", "--json")
    return project


def _headline(store: Warehouse):
    return store.query("SELECT * FROM validation_summary WHERE scope = 'headline' ORDER BY set_id")


def test_run_prints_one_line_per_stage_and_nothing_else_before_the_summary(project):
    run = project.first
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stderr == ""  # no Dagster log lines, no warnings
    assert "\x1b[" not in run.stdout and "\r" not in run.stdout  # no bars or colours in a pipe
    progress, _, summary = run.stdout.partition("\n\n")
    names = [line.split()[0] for line in progress.splitlines()]
    assert names == list(STAGE_LINES)
    lines = dict(zip(names, progress.splitlines(), strict=True))
    assert "4/4" in lines["fetch"] and "(4 new, 0 changed, 0 unchanged, 0 missing, 0 failed)" in lines["fetch"]
    for stage in ("ingest", "walk-forward", "calibration", "predictions", "validation"):
        assert re.match(rf"{stage}\s+4/4\s+partitions\s+\d+\.\ds", lines[stage]), lines[stage]
    assert re.match(r"tables\s+4/4\s+tables", lines["tables"])
    assert re.match(r"jackpots\s+2/2\s+card steps", lines["jackpots"])
    assert summary.startswith("Validation (out of sample)")


def test_the_validation_headline_is_the_warehouse_s(project):
    headline = _headline(project.store)
    assert len(headline) == 10  # sets A-G, the A0 baseline and both markets
    text = project.first.stdout
    for row in headline.to_dict("records"):
        (line,) = [line for line in text.splitlines() if line.split()[:1] == [row["set_id"]]]
        assert f"{row['n']:,}" in line and f"{row['rps']:.4f}" in line and f"{row['log_loss']:.4f}" in line
        assert f"{row['rps_diff_market_pre']:+.4f} ± {row['rps_diff_market_pre_se']:.4f}" in line
        assert f"{row['log_loss_diff_market_pre']:+.4f} ± {row['log_loss_diff_market_pre_se']:.4f}" in line
        assert line.rstrip().endswith(row["health"])
    n = headline["n"].max()
    assert f"{n:,} matches of E0 E1 × 2223 2324 (4 league-seasons)" in text
    playable = headline[headline["set_id"].isin(PLAYABLE_SETS)].sort_values("rps")
    best = playable["set_id"].iloc[0]
    assert f"Recommended set for jackpot cards: {best} (lowest RPS" in text


def test_the_data_counts_are_the_warehouse_s(project):
    store, text = project.store, project.first.stdout
    counts = store.query(
        "SELECT (SELECT count(*) FROM raw_matches) raw, (SELECT count(*) FROM canonical_matches) canonical, "
        "(SELECT count(*) FROM quarantined_rows) quarantined, "
        "(SELECT count(*) FROM raw_matches WHERE row_kind = 'blank') blank").iloc[0]
    assert counts["quarantined"] == 3
    assert (f"rows: {counts['raw']:,} source lines in 4 partitions: {counts['canonical']:,} canonical, "
            f"{counts['quarantined']:,} quarantined, {counts['blank']:,} blank") in text
    reasons = store.query("SELECT reason, count(*) n FROM quarantined_rows GROUP BY 1 ORDER BY n DESC, reason")
    assert list(reasons.itertuples(index=False, name=None)) == [("duplicate_match", 2), ("repeated_header", 1)]
    assert "top quarantine reasons: duplicate_match 2, repeated_header 1" in text
    assert "partitions: 4 configured: 4 ingested, 0 unchanged, 0 failed" in text
    freshness = store.query("SELECT league, last_match_date, days_behind, stale FROM data_freshness ORDER BY league")
    assert freshness["stale"].all()  # the shared files end in May 2024
    shown = ", ".join(f"{r.league} {r.last_match_date.date()} ({r.days_behind} days ago)"
                      for r in freshness.itertuples(index=False))
    words = " ".join(text.split())  # long lines are wrapped
    assert f"last played match: {shown}" in words
    assert "so the data_is_fresh check warns" in words and "ends with the 2023/24 season" in words


def test_the_card_shows_the_recommended_set_s_picks_and_its_exports(project):
    store, text = project.store, project.first.stdout
    headline = _headline(store)
    playable = headline[headline["set_id"].isin(PLAYABLE_SETS)].sort_values("rps")
    best = playable["set_id"].iloc[0]
    picks = store.query("SELECT * FROM jackpot_predictions WHERE jackpot_id = 'sample_2324_final' AND set_id = ? "
                        "ORDER BY position", [best])
    assert len(picks) == 15
    lines = text.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("Jackpot sample_2324_final:")))
    assert f"(finalised; set {best})" in lines[start]
    for row, line in zip(picks.itertuples(index=False), lines[start + 2:start + 17], strict=True):
        assert line.split()[0] == str(row.position) and f"{row.home_team_card} v {row.away_team_card}" in line
        assert re.search(rf"\s{row.pick}\s+{row.prob_home:.3f}\s+{row.prob_draw:.3f}\s+{row.prob_away:.3f}\s", line), line
    # shown relative to the folder the command ran in
    assert "  export: data/exports/sample_2324_final.json" in lines and "  export: data/exports/sample_2324_final.csv" in lines
    assert (project.data / "exports" / "sample_2324_final.json").is_file()
    scored = store.query("SELECT n_scored, correct_picks FROM jackpot_validation WHERE set_id = ?", [best]).iloc[0]
    assert f"scored so far: {scored['correct_picks']} of {scored['n_scored']} picks correct" in text


def test_next_steps_name_commands_that_work(project):
    text = project.first.stdout
    assert "make dev, then open http://127.0.0.1:3000" in text
    assert ".venv/bin/jackpot-pipeline trace sample_2324_final --fixture 1" in text
    (query,) = [line.strip() for line in text.splitlines() if line.strip().startswith(".venv/bin/python -c")]
    shown = subprocess.run(query.replace(".venv/bin/python", sys.executable, 1), shell=True, cwd=project.root,
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    for row in _headline(project.store).itertuples(index=False):
        assert re.search(rf"│ {re.escape(row.set_id)}\s+│\s+{row.n} │\s+{round(row.rps, 4)}", shown.stdout), shown.stdout


def test_summary_prints_the_same_again_and_json_for_machines(project):
    assert project.summary.returncode == 0 and project.first.stdout.endswith(project.summary.stdout)
    assert project.summary_json.returncode == 0
    payload = json.loads(project.summary_json.stdout)
    headline = _headline(project.store).set_index("set_id")
    assert {s["set_id"] for s in payload["validation"]["sets"]} == set(headline.index)
    for scores in payload["validation"]["sets"]:
        row = headline.loc[scores["set_id"]]
        assert scores["n"] == row["n"] and scores["rps"] == row["rps"] and scores["log_loss"] == row["log_loss"]
        assert scores["rps_diff_market_pre_se"] == row["rps_diff_market_pre_se"]
    data = payload["data"]
    assert (data["partitions"], data["quarantined"]) == (4, 3)
    assert data["quarantine_reasons"] == [["duplicate_match", 2], ["repeated_header", 1]]
    assert payload["run"]["ingested"] == ["E0|2223", "E0|2324", "E1|2223", "E1|2324"]
    assert payload["run"]["unchanged"] == [] and payload["run"]["ingest_failed"] == []
    (card,) = payload["jackpots"]
    picks = project.store.query("SELECT position, pick, prob_home FROM jackpot_predictions WHERE set_id = ? "
                                "ORDER BY position", [card["set_id"]])
    assert [(f["position"], f["pick"], f["prob_home"]) for f in card["fixtures"]] == \
        list(picks.itertuples(index=False, name=None))


def test_a_second_run_on_the_same_files_computes_nothing(project):
    again = project.cli("run", "--no-fetch")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.startswith("nothing to compute: every configured partition is current\n")
    assert "partitions: 4 configured: 0 ingested, 4 unchanged, 0 failed" in again.stdout
    assert "Run: 0 Dagster run(s)" in again.stdout
