"""Jackpot assets, one partition per card (``jackpots``, keyed by jackpot_id).

* ``jackpot_predictions`` finalises a card: sets A-G per fixture from the stored strength snapshots
  and calibration maps, written once to ``jackpots`` + ``jackpot_predictions`` (append-only, one
  transaction). A finalised card is immutable; see :func:`check_unchanged`.
* ``jackpot_exports`` writes ``data/exports/<jackpot_id>.json|.csv`` from the stored rows, with the
  per-set ticket analysis.
* ``jackpot_validation`` scores every set on the results found so far (results file beside the card,
  else ``canonical_matches``) into ``jackpot_validation`` and ``jackpot_results``.
"""


import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from dagster import (
    AllPartitionMapping,
    AssetDep,
    AssetExecutionContext,
    Config,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
)

from jackpot_pipeline.defs.jackpots.export_payload import export_payload, export_table, probabilities_by_set
from jackpot_pipeline.defs.jackpots.partitions import jackpot_partitions
from jackpot_pipeline.jackpots.predict import (
    GLOBAL_PRIOR,
    CardPrediction,
    Snapshot,
    predict_card,
    rows_sha256,
)
from jackpot_pipeline.defs.jackpots.resources import JackpotFilesResource
from jackpot_pipeline.defs.jackpots.store import (
    ensure_tables,
    insert_finalised,
    read_jackpot,
    read_predictions,
    replace_validation,
    table_exists,
)
from jackpot_pipeline.defs.resources import WarehouseResource
from jackpot_pipeline.jackpots.cards import CardFixture, JackpotCard, ResolvedFixture, resolve_card
from jackpot_pipeline.jackpots.exports import write_exports
from jackpot_pipeline.jackpots.scoring import MATCH_WINDOW_DAYS, collect_results, outcome_codes, score_card
from jackpot_pipeline.jackpots.tickets import TicketBudget
from jackpot_pipeline.model.metrics import OUTCOME_LABELS
from jackpot_pipeline.sources.teams import TeamMatch, TeamResolver

__all__ = [
    "JACKPOT_CODE_VERSION",
    "FinalisedJackpotError",
    "TicketBudgetConfig",
    "jackpot_assets",
    "jackpot_exports",
    "jackpot_predictions",
    "jackpot_validation",
]

# Recorded with every finalised jackpot; bump when the same inputs would give other predictions.
JACKPOT_CODE_VERSION = "1"
GROUP = "jackpots"


class FinalisedJackpotError(RuntimeError):
    """A finalised jackpot would change (another card file or another model): refused."""


# --------------------------------------------------------------------------------------------
# Reading model state
# --------------------------------------------------------------------------------------------


class _WarehouseLookups:
    """The three look-ups :func:`predict_card` needs, answered by SQL on one connection."""

    def __init__(self, connection, schema: str):
        self.connection = connection
        self.schema = schema
        self.has_calibration = table_exists(connection, "calibration_curves", schema)
        self.has_matches = table_exists(connection, "canonical_matches", schema)

    def snapshot_for(self, league: str, kickoff: pd.Timestamp) -> Snapshot | None:
        found = self.connection.execute(
            f"""SELECT season, as_of_date, model_version FROM {self.schema}.team_strength_snapshots
                WHERE league = ? AND as_of_date < ?
                GROUP BY ALL ORDER BY as_of_date DESC, season DESC LIMIT 1""",
            [league, kickoff.to_pydatetime()],
        ).fetchone()
        if found is None:
            return None
        season, as_of, model_version = found
        rows = self.connection.execute(
            f"""SELECT * FROM {self.schema}.team_strength_snapshots
                WHERE league = ? AND season = ? AND as_of_date = ? AND model_version = ? ORDER BY team""",
            [league, season, as_of, model_version],
        ).df()
        return Snapshot(league, season, pd.Timestamp(as_of).date(), model_version, rows)

    def calibration_for(self, league: str, season: str) -> dict[str, Any] | None:
        if not self.has_calibration:
            return None
        frame = self.connection.execute(
            f"SELECT * FROM {self.schema}.calibration_curves WHERE league = ? AND season = ?", [league, season]
        ).df()
        return None if frame.empty else frame.iloc[0].to_dict()

    def base_rates_for(self, league: str | None, kickoff: pd.Timestamp) -> tuple[np.ndarray, str]:
        if self.has_matches:
            for scope in ([league] if league else []) + [None]:
                where = "status = 'played' AND match_date < ?" + (" AND league = ?" if scope else "")
                parameters = [kickoff.to_pydatetime()] + ([scope] if scope else [])
                counts = dict(self.connection.execute(
                    f"SELECT result, count(*) FROM {self.schema}.canonical_matches WHERE {where} GROUP BY result",
                    parameters,
                ).fetchall())
                total = sum(counts.get(label, 0) for label in OUTCOME_LABELS)
                if total:
                    rates = np.array([counts.get(label, 0) / total for label in OUTCOME_LABELS])
                    where_text = f"{scope}" if scope else "all leagues"
                    return rates, f"home/draw/away frequencies of {total} played matches ({where_text}) before the kick-off"
        return np.array(GLOBAL_PRIOR), "fixed global prior (no played match stored before the kick-off)"


def _require_table(connection, schema: str, table: str, how: str) -> None:
    if not table_exists(connection, table, schema):
        raise RuntimeError(f"the warehouse has no {table} table yet: {how}")


# --------------------------------------------------------------------------------------------
# Immutability
# --------------------------------------------------------------------------------------------


def _card_changes(stored: dict[str, Any], card: JackpotCard) -> list[str]:
    """What differs between the finalised card (stored JSON) and the card file now."""
    now = card.to_dict()
    changes = []
    for key in ("name", "operator", "owner"):
        if stored.get(key) != now.get(key):
            changes.append(f"{key}: {stored.get(key)!r} -> {now.get(key)!r}")
    before = {f["position"]: f for f in stored.get("fixtures", [])}
    after = {f["position"]: f for f in now["fixtures"]}
    for position in sorted(set(before) | set(after)):
        if position not in after:
            changes.append(f"fixture {position} removed")
        elif position not in before:
            changes.append(f"fixture {position} added ({after[position]['home']} v {after[position]['away']})")
        else:
            for key in ("home", "away", "league", "kickoff", "odds"):
                old, new = before[position].get(key), after[position].get(key)
                if old != new:
                    if key == "odds":
                        old, new = _odds_text(old), _odds_text(new)
                    changes.append(f"fixture {position} {key}: {old!r} -> {new!r}")
    return changes


def _odds_text(odds: dict[str, float] | None) -> str:
    return "none" if odds is None else "/".join(f"{odds[side]:g}" for side in ("home", "draw", "away"))


def _finalised_label(stored: dict[str, Any]) -> str:
    return (f"jackpot {stored['jackpot_id']!r} was finalised in run {stored['run_id']} at "
            f"{pd.Timestamp(stored['finalised_at']):%Y-%m-%d %H:%M:%S} UTC from {stored['card_path']} "
            f"(sha256 {stored['card_sha256']})")


_NEW_ID_ADVICE = ("A finalised jackpot is immutable: to predict {what}, save the card under a new jackpot_id "
                  "(the stored predictions were left untouched).")


def check_card_unchanged(stored: dict[str, Any], card: JackpotCard) -> None:
    if stored["card_sha256"] == card.sha256:
        return
    changes = _card_changes(stored["card_json"], card)
    detail = "; ".join(changes) if changes else "no card field differs, only the file's bytes (formatting)"
    raise FinalisedJackpotError(
        f"{_finalised_label(stored)}; the card file {card.source_path} now has sha256 {card.sha256} "
        f"(changed: {detail}). " + _NEW_ID_ADVICE.format(what="the changed card")
    )


def _version_changes(kind: str, before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [
        f"{kind} {key}: {before.get(key, '(not used)')} -> {after.get(key, '(not used)')}"
        for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)
    ]


def check_model_unchanged(stored: dict[str, Any], stored_rows: pd.DataFrame, prediction: CardPrediction) -> bool:
    """True when predicting again gives exactly the stored rows; raises when anything would differ."""
    changes = _version_changes("model", stored["model_versions"], prediction.model_versions)
    changes += _version_changes("calibration", stored["calibration_versions"], prediction.calibration_versions)
    if changes:
        raise FinalisedJackpotError(
            f"{_finalised_label(stored)} with other model versions; predicting it now would change them "
            f"({'; '.join(changes)}). " + _NEW_ID_ADVICE.format(what="this card with the current model")
        )
    new_rows = prediction.rows()
    if rows_sha256(new_rows) == stored["content_sha256"]:
        return True
    differences = []
    first_sets = stored_rows[stored_rows["set_id"] == "A"].set_index("position")
    for fixture in prediction.fixtures:
        if fixture.position not in first_sets.index:
            continue
        old = first_sets.loc[fixture.position]
        for side, name in (("home", fixture.resolved.home_team), ("away", fixture.resolved.away_team)):
            if (old[f"{side}_team"] if not pd.isna(old[f"{side}_team"]) else None) != name:
                differences.append(f"fixture {fixture.position} {side} team {old[f'{side}_team']} -> {name}")
        if old["mode"] != fixture.mode:
            differences.append(f"fixture {fixture.position} mode {old['mode']} -> {fixture.mode}")
    detail = "; ".join(differences) if differences else "the prediction code or its settings changed"
    raise FinalisedJackpotError(
        f"{_finalised_label(stored)}; the same card and model versions now give different predictions ({detail}). "
        + _NEW_ID_ADVICE.format(what="with today's team registry and code")
    )


# --------------------------------------------------------------------------------------------
# Assets
# --------------------------------------------------------------------------------------------


def _set_b_markdown(rows: pd.DataFrame) -> str:
    lines = ["| # | fixture | league | 1 | X | 2 | pick | confidence | mode | warnings |",
             "|---:|---|---|---:|---:|---:|:---:|---|---|---:|"]
    for row in rows[rows["set_id"] == "B"].sort_values("position").itertuples(index=False):
        n_warnings = sum(not w.startswith("flag: ") for w in json.loads(row.warnings))
        lines.append(
            f"| {row.position} | {row.home_team_card} v {row.away_team_card} | {row.league or '?'} | "
            f"{row.prob_home:.3f} | {row.prob_draw:.3f} | {row.prob_away:.3f} | {row.pick} | {row.confidence} | "
            f"{row.mode} | {n_warnings} |"
        )
    return "\n".join(lines)


def _data_version(card_sha256: str, content_sha256: str) -> DataVersion:
    return DataVersion(hashlib.sha256(f"{card_sha256}|{content_sha256}".encode()).hexdigest()[:24])


def _utc_now() -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None))


@asset(
    partitions_def=jackpot_partitions,
    deps=[
        AssetDep("teams"),
        AssetDep("team_strength_snapshots", partition_mapping=AllPartitionMapping()),
        AssetDep("calibration_curves", partition_mapping=AllPartitionMapping()),
    ],
    group_name=GROUP,
    pool="duckdb",
    code_version=JACKPOT_CODE_VERSION,
    description="Finalised sets A-G per fixture of a jackpot card (tables jackpots + jackpot_predictions, "
    "append-only): latest strength snapshot before each kick-off, operator odds de-vigged as the market, the "
    "season's calibration map. Immutable once finalised: a changed card or model is refused.",
)
def jackpot_predictions(
    context: AssetExecutionContext, warehouse: WarehouseResource, jackpot_files: JackpotFilesResource
) -> MaterializeResult:
    jackpot_id = context.partition_key
    card = jackpot_files.find_card(jackpot_id)
    tagged = context.run.tags.get("jackpot/card_sha256")
    if tagged and tagged != card.sha256:
        context.log.warning(f"{card.source_path} changed since the sensor requested this run (sha256 {tagged} then, "
                            f"{card.sha256} now): predicting the current file")
    schema = warehouse.schema_name
    with warehouse.connect() as connection:
        ensure_tables(connection, schema)
        stored = read_jackpot(connection, jackpot_id, schema)
        if stored is not None:
            check_card_unchanged(stored, card)
        _require_table(connection, schema, "teams", "materialise teams (teams_job) after ingestion")
        _require_table(connection, schema, "team_strength_snapshots",
                       "materialise team_strength_snapshots (walk_forward_job) for the card's leagues")
        resolver = TeamResolver(connection.execute(f"SELECT * FROM {schema}.teams").df())
        resolved = resolve_card(card, resolver)
        lookups = _WarehouseLookups(connection, schema)
        prediction = predict_card(
            card, resolved, snapshot_for=lookups.snapshot_for, calibration_for=lookups.calibration_for,
            base_rates_for=lookups.base_rates_for,
        )
        common = {
            "jackpot_id": jackpot_id,
            "card_path": str(card.source_path),
            "card_sha256": card.sha256,
            "n_fixtures": card.n_fixtures,
            "model_versions": MetadataValue.json(prediction.model_versions),
            "calibration_versions": MetadataValue.json(prediction.calibration_versions),
        }
        if stored is not None:
            stored_rows = read_predictions(connection, jackpot_id, schema)
            check_model_unchanged(stored, stored_rows, prediction)
            note = f"unchanged: {_finalised_label(stored)}; nothing written"
            context.log.info(note)
            return MaterializeResult(
                data_version=_data_version(card.sha256, stored["content_sha256"]),
                metadata={**common, "status": "unchanged", "note": note, "rows_written": 0,
                          "finalised_run_id": stored["run_id"], "set_b": MetadataValue.md(_set_b_markdown(stored_rows))},
            )
        finalised_at = _utc_now()
        rows = prediction.rows()
        content = rows_sha256(rows)
        rows = rows.assign(run_id=context.run.run_id, finalised_at=finalised_at)
        insert_finalised(connection, {
            "jackpot_id": jackpot_id,
            "name": card.name,
            "operator": card.operator,
            "owner": card.owner,
            "card_path": str(card.source_path),
            "card_sha256": card.sha256,
            "card_json": card.to_dict(),
            "n_fixtures": card.n_fixtures,
            "model_versions": prediction.model_versions,
            "calibration_versions": prediction.calibration_versions,
            "content_sha256": content,
            "code_version": JACKPOT_CODE_VERSION,
            "run_id": context.run.run_id,
            "finalised_at": finalised_at,
            "status": "finalised",
        }, rows, schema)
    warnings = prediction.warnings
    for warning in warnings:
        (context.log.error if ": critical:" in warning else context.log.warning)(warning)
    modes = rows[rows["set_id"] == "A"]["mode"].value_counts().to_dict()
    return MaterializeResult(
        data_version=_data_version(card.sha256, content),
        metadata={
            **common,
            "status": "finalised",
            "rows_written": len(rows),
            "content_sha256": content,
            "modes": MetadataValue.json(modes),
            "critical_fixtures": sum(f.critical for f in prediction.fixtures),
            "warnings": len(warnings),
            "warning_list": MetadataValue.md("\n".join(f"- {w}" for w in warnings) or "none"),
            "set_b": MetadataValue.md(_set_b_markdown(rows)),
        },
    )


class TicketBudgetConfig(Config):
    """Budget of the optimised ticket in the exports (None = no limit on that count).

    Default: 3 doubles and 1 triple, at most 2^3 x 3 = 24 lines, a common operator limit for a
    reduced-cost combination; set ``max_lines`` to cap the stake directly.
    """

    max_doubles: int | None = 3
    max_triples: int | None = 1
    max_lines: int | None = None


def _read_finalised(connection, schema: str, jackpot_id: str) -> tuple[dict[str, Any], pd.DataFrame]:
    stored = read_jackpot(connection, jackpot_id, schema)
    if stored is None:
        raise RuntimeError(f"jackpot {jackpot_id!r} has not been finalised yet: materialise jackpot_predictions first")
    return stored, read_predictions(connection, jackpot_id, schema)


@asset(
    partitions_def=jackpot_partitions,
    deps=[jackpot_predictions],
    group_name=GROUP,
    pool="duckdb",
    code_version="1",
    description="data/exports/<jackpot_id>.json and .csv (atomic): every fixture's sets A-G with warnings and "
    "explanations, and per set the most-likely ticket and the budget-optimised ticket with the exact "
    "distribution of correct picks, P(all correct) and P(>= n-1), P(>= n-2).",
)
def jackpot_exports(
    context: AssetExecutionContext, config: TicketBudgetConfig, warehouse: WarehouseResource,
    jackpot_files: JackpotFilesResource,
) -> MaterializeResult:
    jackpot_id = context.partition_key
    # not read_only: DuckDB refuses a read-only connection beside a read-write one in the same process
    with warehouse.connect() as connection:
        stored, predictions = _read_finalised(connection, warehouse.schema_name, jackpot_id)
    budget = TicketBudget(config.max_doubles, config.max_triples, config.max_lines)
    payload = export_payload(stored, predictions, budget)
    paths = write_exports(jackpot_files.exports, jackpot_id, payload, export_table(predictions))
    summary = {
        set_id: {
            "most_likely_p_all": tickets["most_likely"]["p_all_correct"],
            "optimised_p_all": tickets["optimised"]["p_all_correct"],
            "optimised_lines": tickets["optimised"]["lines"],
        }
        for set_id, tickets in payload["tickets"]["sets"].items()
    }
    lines = ["| set | most likely P(all) | optimised P(all) | lines | optimised ticket |", "|---|---:|---:|---:|---|"]
    for set_id, tickets in payload["tickets"]["sets"].items():
        lines.append(f"| {set_id} | {tickets['most_likely']['p_all_correct']:.3g} | "
                     f"{tickets['optimised']['p_all_correct']:.3g} | {tickets['optimised']['lines']} | "
                     f"{' '.join(tickets['optimised']['selections'])} |")
    return MaterializeResult(
        data_version=DataVersion(hashlib.sha256(paths.json.read_bytes() + paths.csv.read_bytes()).hexdigest()[:24]),
        metadata={
            "json_path": MetadataValue.path(str(paths.json)),
            "csv_path": MetadataValue.path(str(paths.csv)),
            "budget": MetadataValue.json(budget.to_dict()),
            "tickets": MetadataValue.json(summary),
            "ticket_table": MetadataValue.md("\n".join(lines)),
        },
    )


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def stored_card(stored: dict[str, Any]) -> JackpotCard:
    """The card as finalised (from ``jackpots.card_json``), whatever the file says now."""
    data = stored["card_json"]
    fixtures = tuple(
        CardFixture(
            position=int(f["position"]), home_team=f["home"], away_team=f["away"], league=f["league"],
            kickoff=dt.datetime.fromisoformat(f["kickoff"]),
            odds=None if f["odds"] is None else (f["odds"]["home"], f["odds"]["draw"], f["odds"]["away"]),
        )
        for f in data["fixtures"]
    )
    return JackpotCard(stored["jackpot_id"], data["name"], data["operator"], data["owner"], fixtures,
                       Path(stored["card_path"]), stored["card_sha256"])


def stored_resolution(card: JackpotCard, predictions: pd.DataFrame) -> list[ResolvedFixture]:
    """The finalised team resolution of each fixture (canonical names stored with the predictions)."""
    first = predictions[predictions["set_id"] == "A"].set_index("position")

    def text(value) -> str | None:
        return None if value is None or pd.isna(value) else str(value)

    resolved = []
    for fixture in card.fixtures:
        row = first.loc[fixture.position]
        league = text(row["league"])
        sides = []
        for query, team in ((fixture.home_team, text(row["home_team"])), (fixture.away_team, text(row["away_team"]))):
            sides.append(TeamMatch(query, team, league if team else None, "exact" if team else "unresolved",
                                   1.0 if team else 0.0))
        resolved.append(ResolvedFixture(fixture, sides[0], sides[1], league, None, None, ()))
    return resolved


@asset(
    partitions_def=jackpot_partitions,
    deps=[jackpot_predictions, AssetDep("canonical_matches", partition_mapping=AllPartitionMapping())],
    group_name=GROUP,
    pool="duckdb",
    code_version="1",
    description="Every set of a finalised jackpot scored on the results known so far (results file beside the card "
    "first, then played canonical matches within 3 days of the kick-off): correct picks, Brier, log loss, RPS "
    "(tables jackpot_validation, jackpot_results; replaced at each run).",
)
def jackpot_validation(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    jackpot_id = context.partition_key
    schema = warehouse.schema_name
    with warehouse.connect() as connection:
        ensure_tables(connection, schema)
        stored, predictions = _read_finalised(connection, schema, jackpot_id)
        card = stored_card(stored)
        resolved = stored_resolution(card, predictions)
        matches = None
        if table_exists(connection, "canonical_matches", schema):
            kickoffs = [fixture.kickoff.replace(tzinfo=None) for fixture in card.fixtures]
            window = dt.timedelta(days=MATCH_WINDOW_DAYS + 1)
            matches = connection.execute(
                f"""SELECT league, match_date, home_team, away_team, result FROM {schema}.canonical_matches
                    WHERE match_date BETWEEN ? AND ?""",
                [min(kickoffs) - window, max(kickoffs) + window],
            ).df()
        results = collect_results(card, resolved, matches)
        scores = score_card(probabilities_by_set(predictions), outcome_codes(results))
        now = _utc_now()
        run_id = context.run.run_id
        score_rows = pd.DataFrame([
            {**score.to_dict(), "picks": " ".join(score.picks), "jackpot_id": jackpot_id, "run_id": run_id,
             "validated_at": now}
            for score in scores.values()
        ])
        for column in ("brier", "log_loss", "rps"):  # +inf log loss (a certain outcome missed) stored as NULL
            score_rows[column] = score_rows[column].astype(float).where(np.isfinite(score_rows[column].astype(float)))
        result_rows = pd.DataFrame([
            {"jackpot_id": jackpot_id, "position": r.position, "result": r.result, "source": r.source,
             "detail": r.detail, "notes": json.dumps(list(r.notes), ensure_ascii=False), "run_id": run_id,
             "validated_at": now}
            for r in results
        ])
        replace_validation(connection, jackpot_id, score_rows, result_rows, schema)
    n_scored = sum(r.outcome is not None for r in results)
    lines = ["| set | scored | correct picks | Brier | log loss | RPS |", "|---|---:|---:|---:|---:|---:|"]
    for score in scores.values():
        lines.append(f"| {score.set_id} | {score.n_scored}/{score.n_fixtures} | {score.correct_picks} | "
                     f"{score.brier:.4f} | {score.log_loss:.4f} | {score.rps:.4f} |")
    sources = pd.Series([r.source or "none" for r in results]).value_counts().to_dict()
    return MaterializeResult(
        metadata={
            "fixtures_with_result": n_scored,
            "fixtures": card.n_fixtures,
            "result_sources": MetadataValue.json(sources),
            "results": " ".join(r.result or "-" for r in results),
            "scores": MetadataValue.md("\n".join(lines)),
            "notes": MetadataValue.json([f"fixture {r.position}: {note}" for r in results for note in r.notes]),
        },
    )


jackpot_assets = [jackpot_predictions, jackpot_exports, jackpot_validation]
