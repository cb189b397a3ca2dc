"""The closing summary of ``make run`` (and ``jackpot-pipeline summary``): how good the probabilities are,
what the data holds, what each jackpot card predicts, and where to go next.

:func:`build_summary` reads the warehouse (and the record of the last run) into a :class:`RunSummary`;
:func:`render_summary` turns it into text, :meth:`RunSummary.as_dict` into JSON. Nothing is recomputed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from jackpot_pipeline.jackpots.exports import export_paths
from jackpot_pipeline.json_values import optional_number, to_jsonable
from jackpot_pipeline.model.evaluation import HEADLINE_LEAGUES, HEADLINE_SEASONS, SET_ORDER
from jackpot_pipeline.steps.validation import FreshnessSettings
from jackpot_pipeline.warehouse.store import Warehouse

LAST_RUN_FILE = "last_run.json"
DEV_URL = "http://127.0.0.1:3000"
SET_DESCRIPTIONS = {
    "A0": "pure Dixon-Coles (baseline)",
    "A": "Dixon-Coles, shots on target",
    "B": "60/40 blend, calibrated",
    "C": "30/70 blend (market capped)",
    "D": "B with draw boost",
    "E": "B sharpened (display only)",
    "F": "G with Kelly edges",
    "G": "stacked log-linear pool",
    "market_pre": "pre-closing market",
    "market_close": "closing market",
}
# The sets a card may be played from: E is for display only, F has G's probabilities.
PLAYABLE_SETS = ("A", "B", "C", "D", "G")
FALLBACK_SET = "B"
# The headline rows are the ones without a league; no quotes inside, so it pastes into a shell as it is.
HEADLINE_QUERY = ("SELECT set_id, n, round(rps, 4) AS rps, round(log_loss, 4) AS log_loss "
                  "FROM validation_summary WHERE league IS NULL ORDER BY rps")
_MODES = {"model": "model", "market_only": "odds only", "league_prior": "league prior"}


@dataclass
class RunRecord:
    """What one ``make run`` did (kept in ``data/last_run.json`` so ``jackpot-pipeline summary`` shows it again)."""

    finished_at: str
    seconds: float
    runs: int
    failed_runs: dict[str, str]
    checks_passed: int
    checks_failed: list[str]
    check_warnings: list[str]
    skipped_files: list[str]
    left_alone: list[str]
    fetch: str | None
    configured: list[str]
    ingested: list[str]
    ingest_failed: list[str]
    stages: dict[str, dict[str, int]]  # stage -> {"done": n, "failed": n}

    @property
    def unchanged(self) -> list[str]:
        touched = set(self.ingested) | set(self.ingest_failed)
        return [key for key in self.configured if key not in touched]

    def save(self, data_dir: Path) -> Path:
        target = Path(data_dir) / LAST_RUN_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_text(json.dumps(dataclasses.asdict(self), indent=1, sort_keys=True))
        temporary.replace(target)
        return target

    @classmethod
    def load(cls, data_dir: Path) -> RunRecord | None:
        path = Path(data_dir) / LAST_RUN_FILE
        if not path.is_file():
            return None
        try:
            fields = json.loads(path.read_text())
            return cls(**{f.name: fields[f.name] for f in dataclasses.fields(cls)})
        except (ValueError, KeyError, TypeError):  # written by another version: no record rather than a wrong one
            return None


@dataclass
class SetScore:
    set_id: str
    description: str
    n: int
    rps: float | None
    log_loss: float | None
    rps_diff_market_pre: float | None
    rps_diff_market_pre_se: float | None
    log_loss_diff_market_pre: float | None
    log_loss_diff_market_pre_se: float | None
    health: str | None


@dataclass
class Validation:
    partitions: list[str]  # league|season keys of the headline sample present in the warehouse
    min_season_match_index: int | None
    first_match_date: str | None
    last_match_date: str | None
    sets: list[SetScore]
    recommended_set: str
    recommended_because: str


@dataclass
class LeagueFreshness:
    league: str
    last_match_date: str | None
    days_behind: int | None
    stale: bool


@dataclass
class DataOverview:
    partitions: int  # league × season partitions in the warehouse
    raw_lines: int
    canonical: int
    quarantined: int
    blank: int
    quarantine_reasons: list[tuple[str, int]]  # most frequent first
    freshness: list[LeagueFreshness]
    stale_after_days: int
    freshness_note: str


@dataclass
class CardFixture:
    position: int
    home: str
    away: str
    league: str | None
    kickoff: str
    pick: str
    prob_home: float
    prob_draw: float
    prob_away: float
    mode: str
    result: str | None


@dataclass
class CardSummary:
    jackpot_id: str
    name: str
    status: str
    set_id: str
    fixtures: list[CardFixture]
    exports: list[str]
    n_scored: int | None
    correct_picks: int | None


@dataclass
class NextSteps:
    dev: str
    dev_url: str
    trace: str | None
    warehouse: str
    catalogue: str
    query: str


@dataclass
class RunSummary:
    run: RunRecord | None
    validation: Validation | None
    data: DataOverview | None
    jackpots: list[CardSummary] = field(default_factory=list)
    next_steps: NextSteps | None = None
    warehouse_missing: str | None = None

    def as_dict(self) -> dict[str, Any]:
        payload = dataclasses.asdict(self)
        if self.run is not None:
            payload["run"]["unchanged"] = self.run.unchanged
        return to_jsonable(payload)


def _date(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


# --- building ---------------------------------------------------------------------------------------


def build_summary(data_dir: Path, warehouse_root, catalogue: Path, run: RunRecord | None = None,
                  *, today: dt.date | None = None) -> RunSummary:
    """The summary of the warehouse at ``warehouse_root``; ``run``: what the run that just ended did (else the
    record of the last one in ``data_dir``)."""
    run = run or RunRecord.load(data_dir)
    store = Warehouse(warehouse_root)
    if not store.exists("raw_matches"):
        return RunSummary(run, None, None, warehouse_missing=f"no warehouse at {warehouse_root} yet: run `make run`")
    validation = _validation(store) if store.exists("validation_summary") else None
    recommended = validation.recommended_set if validation else FALLBACK_SET
    cards = _cards(store, data_dir, recommended) if store.exists("jackpots") else []
    return RunSummary(run, validation, _data(store, today), cards, _next_steps(warehouse_root, catalogue, cards))


def _validation(store: Warehouse) -> Validation | None:
    frame = store.query("SELECT * FROM validation_summary WHERE scope = 'headline'")
    if frame.empty:
        return None
    order = {set_id: i for i, set_id in enumerate(SET_ORDER)}
    frame = frame.sort_values("set_id", key=lambda ids: ids.map(lambda s: order.get(s, len(order))))
    scores = ("rps", "log_loss", "rps_diff_market_pre", "rps_diff_market_pre_se", "log_loss_diff_market_pre",
              "log_loss_diff_market_pre_se")
    sets = [SetScore(row["set_id"], SET_DESCRIPTIONS.get(row["set_id"], row["set_id"]), int(row["n"]),
                     *(optional_number(row[score]) for score in scores), row["health"])
            for row in frame.to_dict("records")]
    present = store.query(
        "SELECT DISTINCT league, season FROM validation_summary WHERE scope = 'league_season' ORDER BY league, season")
    partitions = [f"{league}|{season}" for league, season in present.itertuples(index=False)
                  if league in HEADLINE_LEAGUES and season in HEADLINE_SEASONS]
    playable = [s for s in sets if s.set_id in PLAYABLE_SETS and s.rps is not None and s.n > 0]
    if playable:
        best = min(playable, key=lambda s: (s.rps, PLAYABLE_SETS.index(s.set_id)))
        recommended, because = best.set_id, f"lowest RPS of sets {', '.join(PLAYABLE_SETS)} in this validation"
    else:
        recommended, because = FALLBACK_SET, "no scored headline matches yet: the calibrated blend"
    first = frame.iloc[0]
    return Validation(partitions, int(first["min_season_match_index"]) if pd.notna(first["min_season_match_index"]) else None,
                      _date(frame["first_match_date"].min()), _date(frame["last_match_date"].max()), sets,
                      recommended, because)


def _data(store: Warehouse, today: dt.date | None) -> DataOverview:
    counts = store.query(
        """
        SELECT (SELECT count(*) FROM (SELECT DISTINCT league, season FROM raw_matches)) AS partitions,
               (SELECT count(*) FROM raw_matches) AS raw_lines,
               (SELECT count(*) FROM raw_matches WHERE row_kind = 'blank') AS blank,
               (SELECT count(*) FROM canonical_matches) AS canonical,
               (SELECT count(*) FROM quarantined_rows) AS quarantined
        """
    ).iloc[0]
    reasons = store.query("SELECT reason, count(*) AS n FROM quarantined_rows GROUP BY reason ORDER BY n DESC, reason LIMIT 5")
    freshness: list[LeagueFreshness] = []
    if store.exists("data_freshness"):
        rows = store.query("SELECT league, last_match_date, days_behind, stale FROM data_freshness ORDER BY league")
        freshness = [LeagueFreshness(r["league"], _date(r["last_match_date"]),
                                     None if pd.isna(r["days_behind"]) else int(r["days_behind"]), bool(r["stale"]))
                     for r in rows.to_dict("records")]
    days = FreshnessSettings.stale_after_days
    return DataOverview(int(counts["partitions"]), int(counts["raw_lines"]), int(counts["canonical"]),
                        int(counts["quarantined"]), int(counts["blank"]),
                        [(str(r), int(n)) for r, n in reasons.itertuples(index=False)], freshness, days,
                        freshness_note(freshness, days))


def freshness_note(leagues: Sequence[LeagueFreshness], stale_after_days: int) -> str:
    """Freshness in words: which leagues are stale and what that means."""
    if not leagues:
        return "no freshness computed yet"
    stale = [f for f in leagues if f.stale]
    if not stale:
        return f"every league has a played match in the last {stale_after_days} days"
    latest = max((f.last_match_date for f in stale if f.last_match_date), default=None)
    which = "every league" if len(stale) == len(leagues) else f"{len(stale)} of {len(leagues)} leagues ({', '.join(f.league for f in stale)})"
    return (f"stale: the last match of {which} is more than {stale_after_days} days old (the latest is {latest}), so "
            "the data_is_fresh check warns. That is expected between seasons and with the shared copy of the "
            "publisher's files, which ends with the 2023/24 season; during a season, against the live site, it means "
            "new results have not been fetched.")


def _cards(store: Warehouse, data_dir: Path, set_id: str) -> list[CardSummary]:
    jackpots = store.query("SELECT jackpot_id, name, status FROM jackpots ORDER BY jackpot_id")
    predictions = store.query(
        "SELECT jackpot_id, position, home_team_card, away_team_card, league, kickoff_text, pick, prob_home, "
        "prob_draw, prob_away, mode FROM jackpot_predictions WHERE set_id = ? ORDER BY jackpot_id, position", [set_id])
    results = store.query("SELECT jackpot_id, position, result FROM jackpot_results") \
        if store.exists("jackpot_results") else pd.DataFrame(columns=["jackpot_id", "position", "result"])
    scores = store.query("SELECT jackpot_id, n_scored, correct_picks FROM jackpot_validation WHERE set_id = ?", [set_id]) \
        if store.exists("jackpot_validation") else pd.DataFrame(columns=["jackpot_id", "n_scored", "correct_picks"])
    outcome = {(r.jackpot_id, int(r.position)): r.result for r in results.itertuples(index=False)}
    scored = {r.jackpot_id: (int(r.n_scored), int(r.correct_picks)) for r in scores.itertuples(index=False)}
    cards = []
    for jackpot in jackpots.itertuples(index=False):
        rows = predictions[predictions["jackpot_id"] == jackpot.jackpot_id]
        fixtures = [CardFixture(int(r.position), r.home_team_card, r.away_team_card, r.league if pd.notna(r.league) else None,
                                r.kickoff_text, r.pick, float(r.prob_home), float(r.prob_draw), float(r.prob_away),
                                r.mode, _result(outcome.get((jackpot.jackpot_id, int(r.position)))))
                    for r in rows.itertuples(index=False)]
        paths = export_paths(Path(data_dir) / "exports", jackpot.jackpot_id)
        n_scored, correct = scored.get(jackpot.jackpot_id, (None, None))
        cards.append(CardSummary(jackpot.jackpot_id, jackpot.name, jackpot.status, set_id, fixtures,
                                 [_shown(p) for p in (paths.json, paths.csv) if p.is_file()], n_scored, correct))
    return cards


def _result(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else {"H": "1", "D": "X", "A": "2"}.get(str(value), str(value))


def _next_steps(warehouse_root, catalogue: Path, cards: Sequence[CardSummary]) -> NextSteps:
    database = _shown(catalogue)
    query = f"python -c \"import duckdb; duckdb.connect('{database}', read_only=True).sql('{HEADLINE_QUERY}').show()\""
    return NextSteps(
        dev="make dev", dev_url=DEV_URL,
        trace=f"jackpot-pipeline trace {cards[0].jackpot_id} --fixture 1" if cards else None,
        warehouse=_shown(warehouse_root), catalogue=database, query=query,
    )


def _shown(path) -> str:
    """A path as a person types it: relative to the working folder when it lies inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except (ValueError, TypeError, OSError):
        return str(path)


# --- rendering --------------------------------------------------------------------------------------


def _signed(value: float | None, se: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:+.4f} ± {se:.4f}" if se is not None else f"{value:+.4f}"


def _fixed(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str) -> list[str]:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [cell.rjust(w) if a == "r" else cell.ljust(w) for cell, w, a in zip(row, widths, align, strict=True)]
        lines.append("  " + "  ".join(parts).rstrip())
    return lines


def render_summary(summary: RunSummary) -> str:
    lines: list[str] = []
    if summary.warehouse_missing:
        return summary.warehouse_missing + "\n"
    lines += _render_validation(summary.validation)
    lines += _render_data(summary.data, summary.run)
    for card in summary.jackpots:
        lines += _render_card(card)
    if summary.run is not None:
        lines += _render_run(summary.run)
    if summary.next_steps is not None:
        lines += _render_next(summary.next_steps)
    return "\n".join(lines).rstrip() + "\n"


def _render_validation(validation: Validation | None) -> list[str]:
    if validation is None:
        return ["Validation: no headline sample yet (it covers "
                f"{' '.join(HEADLINE_LEAGUES)}, 2015/16-2023/24); see validation_reports per league-season", ""]
    leagues = sorted({p.split("|")[0] for p in validation.partitions}, key=HEADLINE_LEAGUES.index)
    seasons = sorted({p.split("|")[1] for p in validation.partitions}, key=HEADLINE_SEASONS.index)
    n = max((s.n for s in validation.sets), default=0)
    head = (f"Validation (out of sample): {n:,} matches of {' '.join(leagues)} × {' '.join(seasons)}"
            f" ({len(validation.partitions)} league-seasons), {validation.first_match_date} to {validation.last_match_date},"
            f" each season's matches after its first {validation.min_season_match_index}")
    rows = [[s.set_id, s.description, f"{s.n:,}", _fixed(s.rps), _fixed(s.log_loss),
             _signed(s.rps_diff_market_pre, s.rps_diff_market_pre_se),
             _signed(s.log_loss_diff_market_pre, s.log_loss_diff_market_pre_se), s.health or "-"]
            for s in validation.sets]
    return [head, *_table(["set", "", "n", "RPS", "log loss", "RPS vs pre-closing", "log loss vs pre-closing", "health"],
                          rows, "llrrrrrl"),
            "  Lower is better; \"vs pre-closing\" is the set minus the pre-closing market on the same matches, ± one SE.",
            f"  Recommended set for jackpot cards: {validation.recommended_set} ({validation.recommended_because}).", ""]


def _render_data(data: DataOverview | None, run: RunRecord | None) -> list[str]:
    if data is None:
        return []
    lines = ["Data"]
    if run is not None:
        failed = f", {len(run.ingest_failed)} failed ({', '.join(run.ingest_failed)})" if run.ingest_failed else ", 0 failed"
        lines.append(f"  partitions: {len(run.configured)} configured: {len(run.ingested)} ingested, "
                     f"{len(run.unchanged)} unchanged{failed}")
        if run.fetch:
            lines.append(f"  {run.fetch.splitlines()[0]}")
    reasons = ", ".join(f"{reason} {count:,}" for reason, count in data.quarantine_reasons) or "none"
    lines += [f"  rows: {data.raw_lines:,} source lines in {data.partitions} partitions: {data.canonical:,} canonical, "
              f"{data.quarantined:,} quarantined, {data.blank:,} blank",
              f"  top quarantine reasons: {reasons}"]
    if data.freshness:
        behind = ", ".join(f"{f.league} {f.last_match_date}" + (f" ({f.days_behind} days ago)" if f.days_behind is not None else "")
                           for f in data.freshness)
        lines += _wrap(f"last played match: {behind}", 2)
    lines += [*_wrap(f"freshness: {data.freshness_note}", 2), ""]
    return lines


def _wrap(text: str, indent: int, width: int = 116) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=width, initial_indent=" " * indent, subsequent_indent=" " * (indent + 2))


def _render_card(card: CardSummary) -> list[str]:
    head = f"Jackpot {card.jackpot_id}: {card.name} ({card.status}; set {card.set_id})"
    rows = [[f.position, f"{f.home} v {f.away}", f.league or "?", f.kickoff[:16].replace("T", " "), f.pick,
             f"{f.prob_home:.3f}", f"{f.prob_draw:.3f}", f"{f.prob_away:.3f}", _MODES.get(f.mode, f.mode), f.result or ""]
            for f in card.fixtures]
    lines = [head, *_table(["#", "fixture", "league", "kick-off", "pick", "1", "X", "2", "priced by", "result"], rows,
                           "rlllcrrrll")]
    fallback = sum(f.mode != "model" for f in card.fixtures)
    if fallback:
        lines.append(f"  {fallback} of {len(card.fixtures)} fixtures are not priced by the model (their league or team is "
                     "not in the warehouse): see the warnings in the exports.")
    if card.n_scored:
        lines.append(f"  scored so far: {card.correct_picks} of {card.n_scored} picks correct")
    lines += [f"  export: {path}" for path in card.exports] or ["  no exports written yet"]
    return [*lines, ""]


def _render_run(run: RunRecord) -> list[str]:
    minutes, seconds = divmod(round(run.seconds), 60)
    checks = f"checks: {run.checks_passed} passed, {len(run.checks_failed)} failed, {len(run.check_warnings)} warning(s)"
    lines = [f"Run: {run.runs} Dagster run(s) in {minutes}m{seconds:02d}s, {len(run.failed_runs)} failed; {checks}"
             f" (finished {run.finished_at})"]
    for label, message in run.failed_runs.items():
        lines += [f"  FAILED {label}: {message.splitlines()[0]}", *(f"    {m}" for m in message.splitlines()[1:])]
    lines += [f"  CHECK FAILED {failure}" for failure in run.checks_failed]
    lines += [f"  warning: {warning}" for warning in run.check_warnings]
    lines += [f"  left alone (failed earlier with the same inputs): {item}" for item in run.left_alone]
    lines += [f"  skipped: {problem}" for problem in run.skipped_files]
    return [*lines, ""]


def _render_next(steps: NextSteps) -> list[str]:
    lines = ["Next",
             f"  the Dagster UI (assets, runs, lineage; its sensor keeps everything current): {steps.dev}, then open "
             f"{steps.dev_url}"]
    if steps.trace:
        lines.append(f"  a prediction's lineage down to the raw CSV bytes: .venv/bin/{steps.trace}")
    lines += [f"  the warehouse: {steps.warehouse}/ (Parquet, one file per partition), DuckDB views over it in "
              f"{steps.catalogue}; the validation above again:",
              f"    .venv/bin/{steps.query}"]
    return lines


def summary_json(summary: RunSummary) -> str:
    return json.dumps(summary.as_dict(), indent=2, sort_keys=True, default=str)
