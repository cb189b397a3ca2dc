"""What the API reads from the local warehouse and the card and export folders. Nothing here writes.

The warehouse is read through :class:`~jackpot_pipeline.warehouse.store.Warehouse`: an in-memory DuckDB
database with views over the Parquet files, which cannot write them. A jackpot's predictions and tickets are
the export the ``jackpot_exports`` asset wrote (``data/exports/<jackpot_id>.json``), which is itself built
from the finalised ``jackpot_predictions`` rows only, so the API shows exactly what the pipeline stored.
"""

from __future__ import annotations

import functools
import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from jackpot_pipeline.jackpots.cards import RESULTS_SUFFIX, CardError, JackpotCard, load_card
from jackpot_pipeline.jackpots.finalise import read_jackpot
from jackpot_pipeline.json_values import to_jsonable
from jackpot_pipeline.model.validation import detect_drift
from jackpot_pipeline.settings import Settings
from jackpot_pipeline.warehouse.store import Warehouse, release_thread_database

__all__ = ["CardRecord", "WarehouseReads", "jsonable"]



# A reader always gets an answer: a value of a type the conversion does not know is shown as its text.
jsonable = functools.partial(to_jsonable, default=str)


@dataclass(frozen=True)
class CardRecord:
    """A card the API knows: its file (pending or finalised) and, once finalised, its ``jackpots`` row."""

    jackpot_id: str
    owner: str | None
    card: JackpotCard | None
    stored: dict[str, Any] | None

    exported: bool = False

    @property
    def finalised(self) -> bool:
        """Finalised and exported: the predictions, tickets and CSV can be read."""
        return self.stored is not None and self.exported


def releasing_duckdb(method):
    """Run a read, then close the calling thread's DuckDB database unless it is the main thread (see
    :func:`~jackpot_pipeline.warehouse.store.release_thread_database`): the server answers from pooled threads."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        finally:
            if threading.current_thread() is not threading.main_thread():
                release_thread_database()
    return wrapper


class WarehouseReads:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def store(self) -> Warehouse:
        return Warehouse(self.settings.warehouse_root)

    # -- cards -----------------------------------------------------------------------------------

    def card_path(self, jackpot_id: str) -> Path:
        """Where the API stores a submitted card."""
        return self.settings.jackpots_dir / f"{jackpot_id}.json"

    def find_card_file(self, jackpot_id: str) -> JackpotCard | None:
        """The valid card file declaring ``jackpot_id`` (the API's own ``<id>.json`` first, then any other)."""
        own = self.card_path(jackpot_id)
        candidates = [own] if own.is_file() else []
        folder = self.settings.jackpots_dir
        if folder.is_dir():
            candidates += sorted(
                p for p in folder.iterdir()
                if p != own and p.is_file() and not p.name.startswith(".") and p.suffix.lower() in (".json", ".csv")
                and not p.name.lower().endswith(RESULTS_SUFFIX)
            )
        for path in candidates:
            try:
                card = load_card(path)
            except CardError:
                continue
            if card.jackpot_id == jackpot_id:
                return card
        return None

    @releasing_duckdb
    def card(self, jackpot_id: str) -> CardRecord | None:
        stored = read_jackpot(self.store, jackpot_id)
        card = self.find_card_file(jackpot_id)
        if stored is None and card is None:
            return None
        owner = stored.get("owner") if stored is not None else card.owner  # type: ignore[union-attr]
        if owner is not None and (isinstance(owner, float) and math.isnan(owner)):
            owner = None
        exported = (self.settings.exports_dir / f"{jackpot_id}.json").is_file()
        return CardRecord(jackpot_id, owner, card, stored, exported)

    @releasing_duckdb
    def cards(self) -> list[CardRecord]:
        """Every finalised jackpot and every valid card file, by id."""
        ids = set(self.store.partitions("jackpots")) if self.store.exists("jackpots") else set()
        folder = self.settings.jackpots_dir
        if folder.is_dir():
            for path in folder.iterdir():
                if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in (".json", ".csv") \
                        and not path.name.lower().endswith(RESULTS_SUFFIX):
                    try:
                        ids.add(load_card(path).jackpot_id)
                    except CardError:
                        continue
        records = [self.card(jackpot_id) for jackpot_id in sorted(ids)]
        return [record for record in records if record is not None]

    def export(self, jackpot_id: str) -> dict[str, Any] | None:
        path = self.settings.exports_dir / f"{jackpot_id}.json"
        if not path.is_file():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def export_csv(self, jackpot_id: str) -> Path | None:
        path = self.settings.exports_dir / f"{jackpot_id}.csv"
        return path if path.is_file() else None

    # -- shared tables ---------------------------------------------------------------------------

    @releasing_duckdb
    def match_predictions(self, *, league: str | None, season: str | None, team: str | None, date_from: str | None,
                          date_to: str | None, set_id: str | None, limit: int, offset: int) -> tuple[int, list[dict]]:
        conditions, parameters = ["true"], []
        for column, value in (("league", league), ("season", season), ("set_id", set_id)):
            if value is not None:
                conditions.append(f"{column} = ?")
                parameters.append(value)
        if team is not None:
            conditions.append("(lower(home_team) = lower(?) OR lower(away_team) = lower(?))")
            parameters += [team, team]
        if date_from is not None:
            conditions.append("match_date >= CAST(? AS DATE)")
            parameters.append(date_from)
        if date_to is not None:
            conditions.append("match_date < CAST(? AS DATE) + INTERVAL 1 DAY")
            parameters.append(date_to)
        where = " AND ".join(conditions)
        total = int(self.store.query(f"SELECT count(*) AS n FROM match_predictions WHERE {where}", parameters)["n"].iloc[0])
        rows = self.store.query(
            f"""SELECT match_id, league, season, match_date, home_team, away_team, status, result, set_id,
                       prob_home, prob_draw, prob_away, lambda_home, lambda_away, model_version, calibration_version, flags
                FROM match_predictions WHERE {where}
                ORDER BY match_date, league, match_id, set_id LIMIT ? OFFSET ?""",
            [*parameters, limit, offset],
        )
        return total, [jsonable(row) for row in rows.to_dict(orient="records")]

    @releasing_duckdb
    def models_health(self) -> list[dict[str, Any]]:
        """Per league: health and the RPS gap to the pre-closing market with its paired SE (set B, the league's
        headline sample), the drift of the latest season, and the latest season's reliability table."""
        summary = self.store.query("SELECT * FROM validation_summary ORDER BY scope, league, season, set_id")
        reports = self.store.query(
            """SELECT league, season, set_id, n, rps, rps_diff_market_pre, rps_diff_market_pre_se, health, health_reasons,
                      ece, reliability
               FROM validation_reports QUALIFY season = max(season) OVER (PARTITION BY league)
               ORDER BY league, set_id"""
        )
        leagues = sorted(set(reports["league"].dropna()) | set(summary["league"].dropna()))
        health = []
        for league in leagues:
            own = summary[summary["league"] == league]
            latest = reports[reports["league"] == league]
            scopes = {scope: rows for scope, rows in own.groupby("scope")}
            entry: dict[str, Any] = {"league": league}
            overall = scopes.get("league")
            headline = overall[overall["set_id"] == "B"] if overall is not None else None
            if headline is not None and not headline.empty:
                row = headline.iloc[0]
                entry.update(status=row["health"], n=row["n"], rps=row["rps"], rps_vs_market=row["rps_diff_market_pre"],
                             rps_vs_market_se=row["rps_diff_market_pre_se"], reasons=row["health_reasons"])
            else:
                set_b = latest[latest["set_id"] == "B"]
                if not set_b.empty:
                    row = set_b.iloc[0]
                    entry.update(status=row["health"], n=row["n"], rps=row["rps"],
                                 rps_vs_market=row["rps_diff_market_pre"], rps_vs_market_se=row["rps_diff_market_pre_se"],
                                 reasons=row["health_reasons"])
            by_season = scopes.get("league_season")
            drift = detect_drift(by_season) if by_season is not None else None
            entry["drift"] = jsonable(drift.iloc[0].to_dict()) if drift is not None and not drift.empty else None
            if not latest.empty:
                entry["latest_season"] = latest["season"].iloc[0]
                set_b = latest[latest["set_id"] == "B"]
                reliability = set_b["reliability"].iloc[0] if not set_b.empty else None
                entry["reliability"] = json.loads(reliability) if isinstance(reliability, str) and reliability else None
            health.append(jsonable(entry))
        return health

    @releasing_duckdb
    def freshness(self) -> list[dict[str, Any]]:
        frame = self.store.query("SELECT * FROM data_freshness ORDER BY league")
        return [jsonable(row) for row in frame.to_dict(orient="records")]

    def warehouse_health(self) -> dict[str, Any]:
        store = self.store
        tables = {}
        for name in ("canonical_matches", "match_predictions", "validation_reports", "jackpots"):
            tables[name] = len(store.partitions(name)) if store.exists(name) else 0
        return {"root": str(store.root), "reachable": Path(str(store.root)).is_dir() if not store.remote else True,
                "partitions": tables}
