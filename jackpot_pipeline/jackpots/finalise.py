"""Finalised jackpots: reading model state for a card, the immutability rules, and the stored card.

A jackpot is finalised once: its prediction rows, then its ``jackpots`` row (written once, never
replaced), so a jackpot is finalised exactly when its ``jackpots`` row exists. Predicting it again is a
no-op when the card and the model versions are unchanged, and refused with what changed otherwise.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jackpot_pipeline.jackpots.cards import CardFixture, JackpotCard, ResolvedFixture, resolve_card
from jackpot_pipeline.jackpots.predict import GLOBAL_PRIOR, CardPrediction, Snapshot, predict_card, rows_sha256
from jackpot_pipeline.model.metrics import OUTCOME_LABELS
from jackpot_pipeline.reporting import Markdown, markdown_table
from jackpot_pipeline.sources.teams import TeamMatch, TeamResolver
from jackpot_pipeline.warehouse.store import AlreadyFinalised, Warehouse

Query = Callable[[str, Sequence[object]], pd.DataFrame]
JSON_COLUMNS = ("model_versions", "calibration_versions", "card_json")


class FinalisedJackpotError(RuntimeError):
    """A finalised jackpot would change (another card file or another model): refused."""


class WarehouseLookups:
    """The three look-ups :func:`~jackpot_pipeline.jackpots.predict.predict_card` needs, answered by SQL
    over the warehouse tables (``query(sql, parameters)`` returns a frame)."""

    def __init__(self, query: Query):
        self.query = query

    def snapshot_for(self, league: str, kickoff: pd.Timestamp) -> Snapshot | None:
        found = self.query(
            """SELECT season, as_of_date, model_version FROM team_strength_snapshots
               WHERE league = ? AND as_of_date < ? GROUP BY ALL ORDER BY as_of_date DESC, season DESC LIMIT 1""",
            [league, kickoff.to_pydatetime()],
        )
        if found.empty:
            return None
        season, as_of, model_version = found.iloc[0]
        rows = self.query(
            """SELECT * FROM team_strength_snapshots
               WHERE league = ? AND season = ? AND as_of_date = ? AND model_version = ? ORDER BY team""",
            [league, season, as_of, model_version],
        )
        return Snapshot(league, season, pd.Timestamp(as_of).date(), model_version, rows)

    def calibration_for(self, league: str, season: str) -> dict[str, Any] | None:
        frame = self.query("SELECT * FROM calibration_curves WHERE league = ? AND season = ?", [league, season])
        return None if frame.empty else frame.iloc[0].to_dict()

    def base_rates_for(self, league: str | None, kickoff: pd.Timestamp) -> tuple[np.ndarray, str]:
        for scope in ([league] if league else []) + [None]:
            where = "status = 'played' AND match_date < ?" + (" AND league = ?" if scope else "")
            parameters = [kickoff.to_pydatetime()] + ([scope] if scope else [])
            counted = self.query(f"SELECT result, count(*) AS n FROM canonical_matches WHERE {where} GROUP BY result", parameters)
            counts = dict(zip(counted["result"], counted["n"], strict=True))
            total = sum(counts.get(label, 0) for label in OUTCOME_LABELS)
            if total:
                rates = np.array([counts.get(label, 0) / total for label in OUTCOME_LABELS])
                where_text = f"{scope}" if scope else "all leagues"
                return rates, f"home/draw/away frequencies of {total} played matches ({where_text}) before the kick-off"
        return np.array(GLOBAL_PRIOR), "fixed global prior (no played match stored before the kick-off)"


def decode_jackpot_row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, **{column: json.loads(row[column]) for column in JSON_COLUMNS}}


def jackpot_row(card: JackpotCard, prediction: CardPrediction, content_sha256: str, *, code_version: str,
                run_id: str, finalised_at: pd.Timestamp) -> dict[str, Any]:
    """The ``jackpots`` row of a card finalised now (JSON columns encoded)."""
    return {
        "jackpot_id": card.jackpot_id, "name": card.name, "operator": card.operator, "owner": card.owner,
        "card_path": str(card.source_path), "card_sha256": card.sha256,
        "card_json": json.dumps(card.to_dict(), sort_keys=True, ensure_ascii=False), "n_fixtures": card.n_fixtures,
        "model_versions": json.dumps(prediction.model_versions, sort_keys=True),
        "calibration_versions": json.dumps(prediction.calibration_versions, sort_keys=True),
        "content_sha256": content_sha256, "code_version": code_version, "run_id": run_id,
        "finalised_at": finalised_at, "status": "finalised",
    }


# --- immutability --------------------------------------------------------------------------------


def card_changes(stored: dict[str, Any], card: JackpotCard) -> list[str]:
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


def finalised_label(stored: dict[str, Any]) -> str:
    return (f"jackpot {stored['jackpot_id']!r} was finalised in run {stored['run_id']} at "
            f"{pd.Timestamp(stored['finalised_at']):%Y-%m-%d %H:%M:%S} UTC from {stored['card_path']} "
            f"(sha256 {stored['card_sha256']})")


_NEW_ID_ADVICE = ("A finalised jackpot is immutable: to predict {what}, save the card under a new jackpot_id "
                  "(the stored predictions were left untouched).")


def check_card_unchanged(stored: dict[str, Any], card: JackpotCard) -> None:
    if stored["card_sha256"] == card.sha256:
        return
    changes = card_changes(stored["card_json"], card)
    detail = "; ".join(changes) if changes else "no card field differs, only the file's bytes (formatting)"
    raise FinalisedJackpotError(
        f"{finalised_label(stored)}; the card file {card.source_path} now has sha256 {card.sha256} "
        f"(changed: {detail}). " + _NEW_ID_ADVICE.format(what="the changed card")
    )


def _version_changes(kind: str, before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [
        f"{kind} {key}: {before.get(key, '(not used)')} -> {after.get(key, '(not used)')}"
        for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)
    ]


def check_model_unchanged(stored: dict[str, Any], stored_rows: pd.DataFrame, prediction: CardPrediction) -> None:
    """Passes when predicting again gives exactly the stored rows; raises when anything would differ."""
    changes = _version_changes("model", stored["model_versions"], prediction.model_versions)
    changes += _version_changes("calibration", stored["calibration_versions"], prediction.calibration_versions)
    if changes:
        raise FinalisedJackpotError(
            f"{finalised_label(stored)} with other model versions; predicting it now would change them "
            f"({'; '.join(changes)}). " + _NEW_ID_ADVICE.format(what="this card with the current model")
        )
    if rows_sha256(prediction.rows()) == stored["content_sha256"]:
        return
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
        f"{finalised_label(stored)}; the same card and model versions now give different predictions ({detail}). "
        + _NEW_ID_ADVICE.format(what="with today's team registry and code")
    )


# --- the stored card ------------------------------------------------------------------------------


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


def set_b_markdown(rows: pd.DataFrame) -> Markdown:
    table = []
    for row in rows[rows["set_id"] == "B"].sort_values("position").itertuples(index=False):
        n_warnings = sum(not w.startswith("flag: ") for w in json.loads(row.warnings))
        table.append([row.position, f"{row.home_team_card} v {row.away_team_card}", row.league or "?",
                      f"{row.prob_home:.3f}", f"{row.prob_draw:.3f}", f"{row.prob_away:.3f}", row.pick, row.confidence,
                      row.mode, n_warnings])
    return markdown_table(["#", "fixture", "league", "1", "X", "2", "pick", "confidence", "mode", "warnings"], table,
                          "rllrrrclrr")


# --- finalising a card ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Finalised:
    status: str  # "finalised" (written now) or "unchanged" (finalised earlier, nothing written)
    rows: pd.DataFrame
    data_version: str
    metadata: dict[str, object]
    warnings: tuple[str, ...]


def read_jackpot(store: Warehouse, jackpot_id: str) -> dict[str, Any] | None:
    """The ``jackpots`` row of a finalised jackpot (JSON columns decoded), or None."""
    frame = store.read("jackpots", jackpot_id)
    return None if frame is None or frame.empty else decode_jackpot_row(frame.iloc[0].to_dict())


def read_finalised(store: Warehouse, jackpot_id: str) -> tuple[dict[str, Any], pd.DataFrame]:
    stored = read_jackpot(store, jackpot_id)
    predictions = store.read("jackpot_predictions", jackpot_id)
    if stored is None or predictions is None:
        raise LookupError(f"jackpot {jackpot_id!r} has not been finalised yet: materialise jackpot_predictions first")
    return stored, predictions.sort_values(["position", "set_id"], kind="stable").reset_index(drop=True)


def _data_version(card_sha256: str, content_sha256: str) -> str:
    return hashlib.sha256(f"{card_sha256}|{content_sha256}".encode()).hexdigest()[:24]


def finalise_card(store: Warehouse, card: JackpotCard, *, run_id: str, now: dt.datetime, code_version: str) -> Finalised:
    """Predict ``card`` from the stored model and finalise it, or confirm an earlier finalisation.

    The ``jackpots`` row is written first and only once (it claims the jackpot); the prediction rows follow.
    Predicting a finalised card again checks that nothing would change and writes nothing, except the
    prediction rows when a process died between the two writes (restored exactly, from the same run)."""
    stored = read_jackpot(store, card.jackpot_id)
    if stored is not None:
        check_card_unchanged(stored, card)
    for table, how in (("teams", "materialise teams after ingestion"),
                       ("team_strength_snapshots", "materialise team_strength_snapshots for the card's leagues")):
        if not store.exists(table):
            raise LookupError(f"the warehouse has no {table} yet: {how}")
    with store.connect() as cursor:
        def query(sql: str, parameters: Sequence[object]) -> pd.DataFrame:
            return cursor.execute(sql, list(parameters)).df()

        lookups = WarehouseLookups(query)
        resolved = resolve_card(card, TeamResolver(query("SELECT * FROM teams ORDER BY league, team, alias", [])))
        prediction = predict_card(card, resolved, snapshot_for=lookups.snapshot_for,
                                  calibration_for=lookups.calibration_for, base_rates_for=lookups.base_rates_for)
    rows = prediction.rows()
    content = rows_sha256(rows)
    common = {"jackpot_id": card.jackpot_id, "card_path": str(card.source_path), "card_sha256": card.sha256,
              "n_fixtures": card.n_fixtures, "model_versions": prediction.model_versions,
              "calibration_versions": prediction.calibration_versions}
    if stored is None:
        finalised_at = pd.Timestamp(now.astimezone(dt.UTC).replace(tzinfo=None))
        header = jackpot_row(card, prediction, content, code_version=code_version, run_id=run_id, finalised_at=finalised_at)
        try:
            store.write_once("jackpots", pd.DataFrame([header]), card.jackpot_id)
        except AlreadyFinalised:
            stored = read_jackpot(store, card.jackpot_id)  # finalised a moment ago by another run
    if stored is None:
        rows = rows.assign(run_id=run_id, finalised_at=finalised_at)
        store.write("jackpot_predictions", rows, card.jackpot_id)
        modes = rows[rows["set_id"] == "A"]["mode"].value_counts().to_dict()
        warnings = tuple(prediction.warnings)
        return Finalised("finalised", rows, _data_version(card.sha256, content), {
            **common, "status": "finalised", "rows_written": len(rows), "content_sha256": content, "modes": modes,
            "critical_fixtures": sum(f.critical for f in prediction.fixtures), "warnings": len(warnings),
            "warning_list": Markdown("\n".join(f"- {w}" for w in warnings) or "none"), "set_b": set_b_markdown(rows),
        }, warnings)
    stored_rows = store.read("jackpot_predictions", card.jackpot_id)
    if stored_rows is None:
        stored_rows = rows.assign(run_id=stored["run_id"], finalised_at=pd.Timestamp(stored["finalised_at"]))
    check_model_unchanged(stored, stored_rows, prediction)
    if not store.exists("jackpot_predictions", card.jackpot_id):
        store.write("jackpot_predictions", stored_rows, card.jackpot_id)
    note = f"unchanged: {finalised_label(stored)}; nothing written"
    return Finalised("unchanged", stored_rows, _data_version(card.sha256, stored["content_sha256"]), {
        **common, "status": "unchanged", "note": note, "rows_written": 0, "finalised_run_id": stored["run_id"],
        "set_b": set_b_markdown(stored_rows),
    }, ())
