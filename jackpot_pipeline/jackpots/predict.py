"""Predictions of one jackpot card from stored model state (pure: no Dagster, no database).

The Dagster asset reads the warehouse and hands this module three look-ups, so the rules below can
be tested on their own:

* ``snapshot_for(league, kickoff)``: the latest team-strength snapshot of the league dated strictly
  before the kick-off (any season), as :class:`Snapshot`, or None;
* ``calibration_for(league, season)``: the ``calibration_curves`` row of that league and season as a
  dict, or None;
* ``base_rates_for(league, kickoff)``: home/draw/away frequencies of played matches before the
  kick-off (the league's, or every league's when ``league`` is None) and a description.

Per fixture, one *mode*:

``model``
    Teams resolved and a snapshot exists: Dixon-Coles probabilities from the snapshot's parameters
    (:meth:`DixonColesFit.from_parameters`), the operator's odds de-vigged multiplicatively as the
    market, the season's calibrator and stacked pool, sets A-G by
    :func:`~jackpot_pipeline.model.probability_sets.build_probability_sets` (operator odds for F).
``market_only``
    A critical problem (unresolved team, unknown league, no snapshot) and the card has usable odds:
    every set is the de-vigged operator odds, flagged ``market_only``.
``league_prior``
    A critical problem and no usable odds. With a snapshot of the league, the unresolved side(s) get
    the unseen-team prior through the fit and the sets are built as usual (flagged
    ``league_prior``); without one, every set is the base rates.

Kick-offs are compared as the operator's local wall-clock time (the card's offset is dropped), the
same clock as football-data's dates. The season of a fixture (for its calibration map) is the split
season containing the kick-off date (a new season starts on 1 July), or the calendar year for the
extra leagues that play calendar years.

Warnings are strings ``"<severity>: <message>"`` (severity ``info``, ``warning`` or ``critical``);
every fallback and every degraded input (missing calibration, stale snapshot, unseen team,
undevig-able odds) adds one, so nothing degrades silently.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final

import numpy as np
import pandas as pd

from jackpot_pipeline.jackpots.cards import JackpotCard, ResolvedFixture
from jackpot_pipeline.jackpots.tickets import OUTCOME_SYMBOLS
from jackpot_pipeline.model.dixon_coles import DixonColesConfig, DixonColesFit
from jackpot_pipeline.json_values import optional_number, to_jsonable
from jackpot_pipeline.model.explain import explain_fixture
from jackpot_pipeline.model.odds import devig_available
from jackpot_pipeline.model.probability_sets import SET_NAMES, ProbabilitySet, build_probability_sets
from jackpot_pipeline.model.season_calibration import SeasonCalibration
from jackpot_pipeline.sources.leagues import season_key_for_date

__all__ = [
    "CONFIDENCE_HIGH",
    "CONFIDENCE_MEDIUM",
    "DEVIG_METHOD",
    "GLOBAL_PRIOR",
    "MODES",
    "CARD_PREDICTION_COLUMNS",
    "STALE_SNAPSHOT_DAYS",
    "CardPrediction",
    "FixturePrediction",
    "SetPrediction",
    "Snapshot",
    "confidence_label",
    "entropy_bits",
    "fit_from_snapshot",
    "kickoff_local",
    "predict_card",
    "season_of_kickoff",
]

CONFIDENCE_HIGH: Final = 0.60  # max probability >= this: "high"
CONFIDENCE_MEDIUM: Final = 0.45  # >= this: "medium", else "low"
STALE_SNAPSHOT_DAYS: Final = 14  # a snapshot older than this at kick-off gets a warning
DEVIG_METHOD: Final = "multiplicative"
# Used only when the warehouse holds no played match at all before the kick-off (home, draw, away):
# roughly the 2012-2024 frequencies of the main European leagues.
GLOBAL_PRIOR: Final = (0.45, 0.26, 0.29)
MODE_MODEL: Final = "model"
MODE_MARKET_ONLY: Final = "market_only"
MODE_LEAGUE_PRIOR: Final = "league_prior"
MODES: Final = (MODE_MODEL, MODE_MARKET_ONLY, MODE_LEAGUE_PRIOR)
_OUTCOMES: Final = ("home", "draw", "away")

CARD_PREDICTION_COLUMNS: Final = [
    "jackpot_id", "position", "set_id", "home_team_card", "away_team_card", "home_team", "away_team",
    "league", "season", "kickoff", "kickoff_text", "mode", "prob_home", "prob_draw", "prob_away", "pick",
    "entropy_bits", "confidence", "lambda_home", "lambda_away", "snapshot_league", "snapshot_season",
    "snapshot_as_of", "model_version", "calibration_version", "flags", "warnings", "explanation",
    "odds_home", "odds_draw", "odds_away", "market_home", "market_draw", "market_away",
    "edge_home", "edge_draw", "edge_away", "kelly_home", "kelly_draw", "kelly_away",
]


# --------------------------------------------------------------------------------------------
# Small rules
# --------------------------------------------------------------------------------------------


def kickoff_local(kickoff: dt.datetime) -> pd.Timestamp:
    """The kick-off as the operator's wall-clock time (offset dropped), as a naive Timestamp."""
    return pd.Timestamp(kickoff.replace(tzinfo=None))


def season_of_kickoff(league: str, kickoff: dt.datetime) -> str:
    """Season key of a fixture: the calendar year for calendar-year leagues, else the split season
    of the kick-off date (Austria's 2024/25 is ``2425`` like E0's)."""
    return season_key_for_date(league, kickoff.date())


def entropy_bits(probs: Sequence[float]) -> float:
    """Shannon entropy in bits (0 for a certain outcome, log2(3) ~ 1.585 for a uniform one)."""
    return float(-sum(p * math.log2(p) for p in probs if p > 0))


def confidence_label(probs: Sequence[float]) -> str:
    top = max(probs)
    return "high" if top >= CONFIDENCE_HIGH else "medium" if top >= CONFIDENCE_MEDIUM else "low"


@dataclass(frozen=True, eq=False)
class Snapshot:
    """One walk-forward strength snapshot: every team row of (league, season, as_of_date)."""

    league: str
    season: str
    as_of_date: dt.date
    model_version: str
    rows: pd.DataFrame

    @property
    def key(self) -> str:
        return f"{self.league}|{self.season}@{self.as_of_date.isoformat()}"

    @property
    def training_matches(self) -> int:
        """Matches the snapshot was fitted on (each match is two team appearances)."""
        return int(self.rows["matches_used"].sum()) // 2

    @cached_property
    def fit(self) -> DixonColesFit:
        return fit_from_snapshot(self.rows)


def fit_from_snapshot(rows: pd.DataFrame) -> DixonColesFit:
    """The :class:`DixonColesFit` a snapshot's rows describe (priors are the walk-forward's: 0)."""
    if rows.empty:
        raise ValueError("a snapshot needs at least one team row")
    first = rows.iloc[0]
    for column in ("intercept", "home_advantage", "rho", "xi", "shrinkage", "model_version"):
        if rows[column].nunique() != 1:
            raise ValueError(f"snapshot rows disagree on {column}: {sorted(rows[column].unique())}")
    return DixonColesFit.from_parameters(
        rows["team"].tolist(),
        rows["attack"].to_numpy(dtype=float),
        rows["defence"].to_numpy(dtype=float),
        intercept=float(first["intercept"]),
        home_advantage=float(first["home_advantage"]),
        rho=float(first["rho"]),
        config=DixonColesConfig(xi=float(first["xi"]), shrinkage=float(first["shrinkage"])),
    )


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetPrediction:
    set_id: str
    probs: np.ndarray  # (3,) home, draw, away
    flags: tuple[str, ...]
    edge: np.ndarray | None = None  # Set F only
    kelly: np.ndarray | None = None
    derivation: Mapping[str, Any] = field(default_factory=dict)

    @property
    def pick(self) -> str:
        return OUTCOME_SYMBOLS[int(np.argmax(self.probs))]


@dataclass(frozen=True)
class FixturePrediction:
    resolved: ResolvedFixture
    league: str | None
    season: str | None
    mode: str
    snapshot: Snapshot | None
    calibration_key: str | None
    calibration_version: str | None
    lambdas: tuple[float, float] | None
    odds: np.ndarray | None  # operator odds used (None when absent or unusable)
    market: np.ndarray | None  # de-vigged operator odds
    warnings: tuple[str, ...]
    sets: Mapping[str, SetPrediction]
    context: Mapping[str, Any]  # explanation parts shared by every set of the fixture

    @property
    def position(self) -> int:
        return self.resolved.position

    @property
    def critical(self) -> bool:
        return any(w.startswith("critical:") for w in self.warnings)

    def explanation(self, set_id: str) -> dict[str, Any]:
        """JSON-safe account of one set's probabilities for this fixture."""
        return to_jsonable({**self.context, "set_id": set_id, "set": dict(self.sets[set_id].derivation)})


@dataclass(frozen=True)
class CardPrediction:
    card: JackpotCard
    fixtures: tuple[FixturePrediction, ...]

    @property
    def model_versions(self) -> dict[str, str]:
        """{``league|season@as_of``: model_version} of every snapshot used."""
        return dict(sorted({f.snapshot.key: f.snapshot.model_version for f in self.fixtures if f.snapshot}.items()))

    @property
    def calibration_versions(self) -> dict[str, str]:
        """{``league|season``: calibration_version or ``"none"``} of every calibration used."""
        return dict(sorted(
            {f.calibration_key: f.calibration_version or "none" for f in self.fixtures if f.calibration_key}.items()
        ))

    @property
    def warnings(self) -> list[str]:
        return [f"fixture {f.position} ({f.resolved.fixture.label}): {w}" for f in self.fixtures for w in f.warnings]

    def probabilities(self, set_id: str) -> np.ndarray:
        return np.vstack([f.sets[set_id].probs for f in self.fixtures])

    def rows(self) -> pd.DataFrame:
        """One row per fixture and set, in :data:`CARD_PREDICTION_COLUMNS` (without run id and time)."""
        records = []
        for prediction in self.fixtures:
            fixture = prediction.resolved.fixture
            snapshot = prediction.snapshot
            lam = prediction.lambdas or (None, None)
            odds = prediction.odds if prediction.odds is not None else np.full(3, np.nan)
            market = prediction.market if prediction.market is not None else np.full(3, np.nan)
            for set_id in SET_NAMES:
                entry = prediction.sets[set_id]
                probs = entry.probs
                edge = entry.edge if entry.edge is not None else np.full(3, np.nan)
                kelly = entry.kelly if entry.kelly is not None else np.full(3, np.nan)
                set_warnings = [*prediction.warnings, *(f"flag: {flag}" for flag in entry.flags)]
                records.append({
                    "jackpot_id": self.card.jackpot_id,
                    "position": fixture.position,
                    "set_id": set_id,
                    "home_team_card": fixture.home_team,
                    "away_team_card": fixture.away_team,
                    "home_team": prediction.resolved.home_team,
                    "away_team": prediction.resolved.away_team,
                    "league": prediction.league,
                    "season": prediction.season,
                    "kickoff": kickoff_local(fixture.kickoff),
                    "kickoff_text": fixture.kickoff.isoformat(),
                    "mode": prediction.mode,
                    "prob_home": float(probs[0]),
                    "prob_draw": float(probs[1]),
                    "prob_away": float(probs[2]),
                    "pick": entry.pick,
                    "entropy_bits": entropy_bits(probs),
                    "confidence": confidence_label(probs),
                    "lambda_home": lam[0],
                    "lambda_away": lam[1],
                    "snapshot_league": snapshot.league if snapshot else None,
                    "snapshot_season": snapshot.season if snapshot else None,
                    "snapshot_as_of": pd.Timestamp(snapshot.as_of_date) if snapshot else None,
                    "model_version": snapshot.model_version if snapshot else None,
                    "calibration_version": prediction.calibration_version,
                    "flags": ",".join(entry.flags),
                    "warnings": json.dumps(set_warnings, ensure_ascii=False),
                    "explanation": json.dumps(prediction.explanation(set_id), sort_keys=True, allow_nan=False,
                                              ensure_ascii=False),
                    **{f"odds_{o}": optional_number(odds[k]) for k, o in enumerate(_OUTCOMES)},
                    **{f"market_{o}": optional_number(market[k]) for k, o in enumerate(_OUTCOMES)},
                    **{f"edge_{o}": optional_number(edge[k]) for k, o in enumerate(_OUTCOMES)},
                    **{f"kelly_{o}": optional_number(kelly[k]) for k, o in enumerate(_OUTCOMES)},
                })
        frame = pd.DataFrame.from_records(records, columns=CARD_PREDICTION_COLUMNS)
        for column in ("lambda_home", "lambda_away"):
            frame[column] = frame[column].astype("float64")
        return frame

    def content_sha256(self) -> str:
        """sha256 of everything the prediction rows say (same inputs, same hash, bit for bit)."""
        return rows_sha256(self.rows())


def rows_sha256(rows: pd.DataFrame) -> str:
    """sha256 of prediction rows (columns of :data:`CARD_PREDICTION_COLUMNS`, any order of rows)."""
    ordered = rows[CARD_PREDICTION_COLUMNS].sort_values(["position", "set_id"], kind="stable")
    digest = hashlib.sha256()
    for record in ordered.itertuples(index=False):
        values = [_canonical_value(value) for value in record]
        digest.update(json.dumps(values, ensure_ascii=False, allow_nan=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _canonical_value(value: Any) -> Any:
    """A cell as the hashed text has it. Not :func:`~jackpot_pipeline.json_values.to_jsonable`: a date hashes as
    its midnight timestamp and an infinity is refused, as in every hash already published, so stored
    ``content_sha256`` values keep verifying."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if math.isnan(float(value)) else float(value)
    return value


# --------------------------------------------------------------------------------------------
# Prediction
# --------------------------------------------------------------------------------------------

SnapshotLookup = Callable[[str, pd.Timestamp], "Snapshot | None"]
CalibrationLookup = Callable[[str, str], "Mapping[str, Any] | None"]
BaseRatesLookup = Callable[["str | None", pd.Timestamp], "tuple[np.ndarray, str]"]


def predict_card(
    card: JackpotCard,
    resolved: Sequence[ResolvedFixture],
    *,
    snapshot_for: SnapshotLookup,
    calibration_for: CalibrationLookup,
    base_rates_for: BaseRatesLookup,
) -> CardPrediction:
    """Sets A-G for every fixture of ``card`` (see the module docstring for the rules)."""
    calibrations: dict[tuple[str, str], tuple[SeasonCalibration | None, str | None]] = {}

    def calibration(league: str, season: str) -> tuple[SeasonCalibration | None, str | None]:
        if (league, season) not in calibrations:
            row = calibration_for(league, season)
            calibrations[(league, season)] = (
                (SeasonCalibration.from_row(dict(row)), str(row["calibration_version"])) if row is not None else (None, None)
            )
        return calibrations[(league, season)]

    fixtures = tuple(
        _predict_fixture(fixture, snapshot_for, calibration, base_rates_for) for fixture in resolved
    )
    return CardPrediction(card, fixtures)


def _predict_fixture(
    resolved: ResolvedFixture,
    snapshot_for: SnapshotLookup,
    calibration: Callable[[str, str], tuple[SeasonCalibration | None, str | None]],
    base_rates_for: BaseRatesLookup,
) -> FixturePrediction:
    fixture = resolved.fixture
    warnings = [str(warning) for warning in resolved.warnings]
    league = resolved.league
    season = season_of_kickoff(league, fixture.kickoff) if league else None
    kickoff = kickoff_local(fixture.kickoff)

    odds: np.ndarray | None = None
    market: np.ndarray | None = None
    margin: float | None = None
    if fixture.odds is not None:
        given = np.asarray(fixture.odds, dtype=float)
        implied, available = devig_available(given[np.newaxis, :], DEVIG_METHOD, invalid="missing")
        if available[0]:
            odds, market, margin = given, implied.probs[0], float(implied.margin[0])
        else:
            warnings.append(
                f"warning: operator odds {list(fixture.odds)} cannot be de-vigged (their overround is below 1): "
                "ignored, the fixture has no market"
            )

    snapshot = snapshot_for(league, kickoff) if league else None
    if league and snapshot is None:
        warnings.append(
            f"critical: no strength snapshot of {league} dated before the kick-off {kickoff:%Y-%m-%d %H:%M}: "
            "the model cannot price this fixture"
        )
    if snapshot is not None:
        age = (kickoff.normalize() - pd.Timestamp(snapshot.as_of_date)).days
        if age > STALE_SNAPSHOT_DAYS:
            warnings.append(
                f"warning: the latest strength snapshot of {league} is as of {snapshot.as_of_date}, {age} days "
                "before the kick-off: matches played since are not in the model"
            )
        if season is not None and snapshot.season != season:
            warnings.append(
                f"warning: no snapshot of season {season} before the kick-off; used the {snapshot.season} "
                f"snapshot as of {snapshot.as_of_date}"
            )

    critical = any(w.startswith("critical:") for w in warnings)
    mode = MODE_MODEL if not critical else MODE_MARKET_ONLY if market is not None else MODE_LEAGUE_PRIOR
    if critical:
        warnings.append(
            f"critical: fallback {mode}: "
            + ("every set is the operator's odds de-vigged (multiplicative)" if mode == MODE_MARKET_ONLY else
               "unresolved side(s) priced with the league's unseen-team prior through the fit" if snapshot is not None
               else "every set is the base rates of played matches before the kick-off")
        )

    context: dict[str, Any] = {
        "fixture": {
            "position": fixture.position,
            "home_team_card": fixture.home_team,
            "away_team_card": fixture.away_team,
            "home_team": resolved.home_team,
            "away_team": resolved.away_team,
            "home_match": {"method": resolved.home.method, "confidence": resolved.home.confidence},
            "away_match": {"method": resolved.away.method, "confidence": resolved.away.confidence},
            "league": league,
            "league_source": resolved.league_source,
            "season": season,
            "kickoff": fixture.kickoff.isoformat(),
        },
        "mode": mode,
        "warnings": list(warnings),
        "market": None if market is None else {
            "odds": dict(zip(_OUTCOMES, odds.tolist(), strict=True)),
            "devig": DEVIG_METHOD,
            "margin": margin,
            "probabilities": dict(zip(_OUTCOMES, market.tolist(), strict=True)),
        },
        "snapshot": None if snapshot is None else {
            "league": snapshot.league,
            "season": snapshot.season,
            "as_of_date": snapshot.as_of_date.isoformat(),
            "model_version": snapshot.model_version,
            "training_matches": snapshot.training_matches,
        },
    }

    if mode == MODE_MARKET_ONLY or (mode == MODE_LEAGUE_PRIOR and snapshot is None):
        if mode == MODE_MARKET_ONLY:
            assert market is not None
            probs, source = market, f"operator odds de-vigged ({DEVIG_METHOD})"
        else:
            probs, source = base_rates_for(league, kickoff)
        sets = _constant_sets(probs, odds, mode, source, warnings)
        # no model is used, so no model version is recorded (a snapshot may exist for the league)
        context.update(snapshot=None, dixon_coles=None, calibration=None)
        return FixturePrediction(resolved, league, season, mode, None, None, None, None, odds, market,
                                 tuple(warnings), sets, context)

    assert snapshot is not None and league is not None and season is not None
    fit = snapshot.fit
    home, away = _model_sides(resolved, mode)
    for side, name in (("home", home), ("away", away)):
        if name in fit.teams or mode == MODE_LEAGUE_PRIOR:
            continue
        warnings.append(
            f"warning: {side} team {name} has no strength in the {snapshot.key} snapshot (no match in its "
            "training window): priced with the unseen-team prior"
        )
    model = fit.predict_1x2([home], [away])
    lambda_home, lambda_away = (float(value[0]) for value in fit.lambdas([home], [away]))

    season_calibration, calibration_version = calibration(league, season)
    calibration_key = f"{league}|{season}"
    if season_calibration is None:
        warnings.append(
            f"warning: no calibration_curves row for {league} season {season}: Set B uses the identity "
            "(flagged uncalibrated) and Set G equals Set A"
        )
    built = build_probability_sets(
        model,
        None if market is None else market[np.newaxis, :],
        calibrator=season_calibration.calibrator if season_calibration else None,
        stacked_pool=season_calibration.stacked_pool if season_calibration else None,
        operator_odds=None if odds is None else odds[np.newaxis, :],
    )
    extra_flags = tuple(season_calibration.flags) if season_calibration else ()
    if mode == MODE_LEAGUE_PRIOR:
        extra_flags = (*extra_flags, MODE_LEAGUE_PRIOR)
    decomposition = fit.lambda_decomposition(home, away)
    explained = explain_fixture(built, 0, lambda_decomposition=decomposition)
    sets = {set_id: _from_probability_set(built[set_id], extra_flags, explained["sets"][set_id]) for set_id in SET_NAMES}
    context["warnings"] = list(warnings)
    context["dixon_coles"] = explained["dixon_coles"]
    context["calibration"] = {
        "league": league,
        "season": season,
        "calibration_version": calibration_version,
        "method": season_calibration.method if season_calibration else "identity (no calibration_curves row)",
        "scope": season_calibration.scope if season_calibration else None,
        "flags": list(season_calibration.flags) if season_calibration else ["missing"],
    }
    return FixturePrediction(
        resolved, league, season, mode, snapshot, calibration_key, calibration_version, (lambda_home, lambda_away),
        odds, market, tuple(warnings), sets, context,
    )


def _model_sides(resolved: ResolvedFixture, mode: str) -> tuple[str, str]:
    """Team names to price: canonical names, or placeholders (never in a fit: the unseen-team prior)
    for sides that are unresolved or that resolve to the same team as the other side."""
    home, away = resolved.home_team, resolved.away_team
    if mode == MODE_MODEL:
        assert home is not None and away is not None
        return home, away
    same = home is not None and home == away
    placeholder_home = f"(unresolved home) {resolved.home.query}"
    placeholder_away = f"(unresolved away) {resolved.away.query}"
    return (placeholder_home if home is None or same else home, placeholder_away if away is None or same else away)


def _from_probability_set(
    probability_set: ProbabilitySet, extra_flags: tuple[str, ...], derivation: Mapping[str, Any]
) -> SetPrediction:
    flags = tuple(dict.fromkeys([*extra_flags, *probability_set.flags_for_row(0)]))
    edge = probability_set.components.get("edge")
    kelly = probability_set.components.get("kelly_fraction")
    return SetPrediction(
        probability_set.name,
        np.array(probability_set.probs[0], dtype=float),
        flags,
        None if edge is None else np.array(edge[0], dtype=float),
        None if kelly is None else np.array(kelly[0], dtype=float),
        derivation,
    )


def _constant_sets(
    probs: np.ndarray, odds: np.ndarray | None, mode: str, source: str, warnings: Sequence[str]
) -> dict[str, SetPrediction]:
    """Every set equal to one fallback distribution (Set F still shows edges against the odds)."""
    probs = np.asarray(probs, dtype=float)
    probs = probs / probs.sum()
    reasons = [w for w in warnings if w.startswith("critical:")]
    sets = {}
    for set_id in SET_NAMES:
        edge = kelly = None
        if set_id == "F" and odds is not None:
            edge = probs * odds - 1.0
            kelly = np.maximum(edge / (odds - 1.0), 0.0)
        derivation = {
            "fallback": mode,
            "source": source,
            "reasons": reasons,
            "probabilities": dict(zip(_OUTCOMES, probs.tolist(), strict=True)),
        }
        if edge is not None:
            derivation["edge"] = dict(zip(_OUTCOMES, edge.tolist(), strict=True))
            derivation["kelly_fraction"] = dict(zip(_OUTCOMES, kelly.tolist(), strict=True))
        flags = (mode,) if set_id != "F" or odds is not None else (mode, "no_operator_odds")
        sets[set_id] = SetPrediction(set_id, probs, flags, edge, kelly, derivation)
    return sets
