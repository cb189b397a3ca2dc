"""The Dixon-Coles model's settings, fit diagnostics and the fitted model: lookups, predictions,
likelihood of given matches, explanations and serialisation (fitting: :mod:`jackpot_pipeline.model.dixon_coles`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jackpot_pipeline.model.dixon_coles_inputs import as_goal_array, as_team_array
from jackpot_pipeline.model.dixon_coles_solver import WeightedLikelihood, rho_interval_for
from jackpot_pipeline.model.scores import (
    MatchPrediction,
    match_prediction,
    outcome_probabilities,
    score_matrices,
)

SERIALISATION_FORMAT = "jackpot_pipeline.dixon_coles_fit/1"
UNSEEN_HOME_FLAG = "unseen_home_team"
UNSEEN_AWAY_FLAG = "unseen_away_team"

# Fixtures are scored in chunks so the (n, G+1, G+1) grids stay small for any n.
_PREDICTION_CHUNK = 8192


class FitDidNotConverge(RuntimeError):
    """The optimiser stopped without reaching the optimum; no fit is returned."""

    def __init__(self, message: str, *, iterations: int, gradient_max: float):
        super().__init__(message)
        self.optimiser_message = message
        self.iterations = iterations
        self.gradient_max = gradient_max


@dataclass(frozen=True)
class DixonColesConfig:
    """Fit settings.

    xi: time decay per day (0 = equal weights). shrinkage: precision s of the Gaussian prior on each
    attack/defence, in units of match weight (0 = plain maximum likelihood). The default 5.0 was the best
    of {0.1, 0.3, 1, 3, 5, 10, 30} in a weekly walk-forward over E0 E1 SP1 D1 I1 F1 2015/16-2023/24 with
    three-season windows (RPS 0.2047 against 0.2052 at 1.0 and 0.2066 at 30). prior_attack /
    prior_defence: strengths given to unseen teams and the shrinkage centre of `promoted_teams`.
    max_goals: score-grid size per side for predictions. tol: convergence threshold on the largest
    projected-gradient entry, relative to Σw. max_iter: Newton steps allowed to each solver (the active-set
    solver's working-set changes that do not move are bounded apart).
    """

    xi: float = 0.0018
    shrinkage: float = 5.0
    prior_attack: float = 0.0
    prior_defence: float = 0.0
    max_goals: int = 10
    tol: float = 1e-9
    max_iter: int = 100

    def __post_init__(self) -> None:
        for name in ("xi", "shrinkage", "prior_attack", "prior_defence", "tol"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)!r}")
        if self.xi < 0:
            raise ValueError(f"xi must be >= 0 (per day), got {self.xi}")
        if self.shrinkage < 0:
            raise ValueError(f"shrinkage must be >= 0, got {self.shrinkage}")
        if self.tol <= 0:
            raise ValueError(f"tol must be > 0, got {self.tol}")
        if int(self.max_goals) != self.max_goals or self.max_goals < 2:
            raise ValueError(f"max_goals must be an integer >= 2, got {self.max_goals}")
        if int(self.max_iter) != self.max_iter or self.max_iter < 1:
            raise ValueError(f"max_iter must be an integer >= 1, got {self.max_iter}")


@dataclass(frozen=True)
class FitDiagnostics:
    """How the fit went. `log_likelihood` is the weighted Σ w log P(score) without the penalty;
    `penalised_log_likelihood` is the maximised objective. `rho_interval` is the valid ρ region at the
    fitted strengths; `rho_at_bound` says whether the optimum lies on it."""

    converged: bool
    iterations: int
    log_likelihood: float
    penalised_log_likelihood: float
    n_matches: int
    n_teams: int
    effective_weight: float
    effective_sample_size: float
    gradient_max: float
    rho_interval: tuple[float, float]
    rho_at_bound: bool
    solver: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["rho_interval"] = list(self.rho_interval)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FitDiagnostics:
        values = dict(data)
        values["rho_interval"] = tuple(values["rho_interval"])
        return cls(**values)


def _read_only(values: Any) -> np.ndarray:
    array = np.array(values, dtype=np.float64)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class DixonColesFit:
    """A fitted (or externally specified) Dixon-Coles model; immutable (arrays are read-only).

    `teams` is sorted; `attack[k]` and `defence[k]` belong to `teams[k]`. Teams not in `teams` are
    predicted with (`prior_attack`, `prior_defence`) and flagged. `diagnostics` is None for a model built
    with `from_parameters`. Equality is identity; compare snapshots with `to_dict()`.
    """

    teams: tuple[str, ...]
    attack: np.ndarray
    defence: np.ndarray
    intercept: float
    home_advantage: float
    rho: float
    prior_attack: float = 0.0
    prior_defence: float = 0.0
    config: DixonColesConfig = field(default_factory=DixonColesConfig)
    reference_date: dt.date | None = None
    promoted_teams: tuple[str, ...] = ()
    diagnostics: FitDiagnostics | None = None
    _team_index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        teams = tuple(str(team) for team in self.teams)
        if list(teams) != sorted(set(teams)):
            raise ValueError("teams must be unique and sorted")
        attack, defence = _read_only(self.attack), _read_only(self.defence)
        if attack.shape != (len(teams),) or defence.shape != (len(teams),):
            raise ValueError(f"attack and defence need one value per team ({len(teams)})")
        scalars = (self.intercept, self.home_advantage, self.rho, self.prior_attack, self.prior_defence)
        if not (np.all(np.isfinite(attack)) and np.all(np.isfinite(defence)) and all(map(math.isfinite, scalars))):
            raise ValueError("model parameters must be finite")
        object.__setattr__(self, "teams", teams)
        object.__setattr__(self, "attack", attack)
        object.__setattr__(self, "defence", defence)
        for name in ("intercept", "home_advantage", "rho", "prior_attack", "prior_defence"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "promoted_teams", tuple(sorted(set(self.promoted_teams))))
        object.__setattr__(self, "_team_index", {team: k for k, team in enumerate(teams)})

    # -- construction -------------------------------------------------------------------------------

    @classmethod
    def from_parameters(
        cls,
        teams: Sequence[str],
        attack: Sequence[float],
        defence: Sequence[float],
        *,
        intercept: float,
        home_advantage: float,
        rho: float,
        prior_attack: float = 0.0,
        prior_defence: float = 0.0,
        config: DixonColesConfig | None = None,
    ) -> DixonColesFit:
        """Wrap given parameters (in this module's parametrisation) without fitting; teams may be unsorted."""
        order = np.argsort(np.asarray(teams, dtype=str), kind="stable")
        return cls(
            teams=tuple(str(teams[k]) for k in order),
            attack=np.asarray(attack, dtype=np.float64)[order],
            defence=np.asarray(defence, dtype=np.float64)[order],
            intercept=intercept,
            home_advantage=home_advantage,
            rho=rho,
            prior_attack=prior_attack,
            prior_defence=prior_defence,
            config=config or DixonColesConfig(),
        )

    # -- lookups ------------------------------------------------------------------------------------

    @property
    def n_teams(self) -> int:
        return len(self.teams)

    def strengths(self, team: str) -> tuple[float, float, bool]:
        """(attack, defence, is_unseen) of one team."""
        k = self._team_index.get(team)
        if k is None:
            return self.prior_attack, self.prior_defence, True
        return float(self.attack[k]), float(self.defence[k]), False

    def _indices(self, names: np.ndarray) -> np.ndarray:
        """Team positions, with −1 (the prior's slot in `_extended_strengths`) for unseen teams."""
        return np.fromiter((self._team_index.get(name, -1) for name in names), dtype=np.int64, count=len(names))

    def _extended_strengths(self) -> tuple[np.ndarray, np.ndarray]:
        # Index n (= −1 after lookup) holds the unseen-team prior.
        return np.append(self.attack, self.prior_attack), np.append(self.defence, self.prior_defence)

    def _lambdas_from_indices(self, home_index: np.ndarray, away_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        attack, defence = self._extended_strengths()
        log_home = self.intercept + self.home_advantage + attack[home_index] - defence[away_index]
        log_away = self.intercept + attack[away_index] - defence[home_index]
        return np.exp(log_home), np.exp(log_away)

    def _fixture_indices(self, home_teams: Any, away_teams: Any):
        """(home index, away index, home unseen, away unseen) arrays for validated fixtures."""
        home_names = as_team_array(home_teams, "home_teams")
        away_names = as_team_array(away_teams, "away_teams")
        if home_names.shape != away_names.shape:
            raise ValueError(f"home_teams and away_teams differ in length ({len(home_names)} vs {len(away_names)})")
        same = home_names == away_names
        if np.any(same):
            raise ValueError(f"a team cannot play itself (index {int(np.flatnonzero(same)[0])}: {home_names[same][0]})")
        home_index, away_index = self._indices(home_names), self._indices(away_names)
        return home_index, away_index, home_index < 0, away_index < 0

    def lambdas(self, home_teams: Sequence[str], away_teams: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Expected goals (λ_home, λ_away) of many fixtures; unseen teams get the prior."""
        home_index, away_index, _, _ = self._fixture_indices(home_teams, away_teams)
        return self._lambdas_from_indices(home_index, away_index)

    # -- prediction ---------------------------------------------------------------------------------

    def predict(self, home_team: str, away_team: str, *, max_goals: int | None = None) -> MatchPrediction:
        """Score-matrix prediction of one fixture.

        Raises `InvalidRhoError` (a ValueError) if ρ is outside the valid region for this fixture, which a
        fit from `fit_dixon_coles` rules out by construction.
        """
        home_index, away_index, home_unseen, away_unseen = self._fixture_indices([home_team], [away_team])
        lam_home, lam_away = self._lambdas_from_indices(home_index, away_index)
        grids, truncated = score_matrices(lam_home, lam_away, self.rho, max_goals or self.config.max_goals)
        flags = tuple(
            flag for flag, raised in ((UNSEEN_HOME_FLAG, home_unseen[0]), (UNSEEN_AWAY_FLAG, away_unseen[0])) if raised
        )
        return match_prediction(
            grids[0],
            truncated[0],
            lam_home[0],
            lam_away[0],
            home_team=home_team,
            away_team=away_team,
            flags=flags,
        )

    def predict_1x2(
        self, home_teams: Sequence[str], away_teams: Sequence[str], *, max_goals: int | None = None
    ) -> np.ndarray:
        """(n, 3) array of P(home win), P(draw), P(away win); same numbers as `predict` fixture by fixture."""
        home_index, away_index, _, _ = self._fixture_indices(home_teams, away_teams)
        lam_home, lam_away = self._lambdas_from_indices(home_index, away_index)
        goals = max_goals or self.config.max_goals
        out = np.empty((len(lam_home), 3))
        for start in range(0, len(lam_home), _PREDICTION_CHUNK):
            stop = start + _PREDICTION_CHUNK
            grids, _ = score_matrices(lam_home[start:stop], lam_away[start:stop], self.rho, goals)
            out[start:stop] = outcome_probabilities(grids)
        return out

    def log_likelihood(
        self,
        home_teams: Sequence[str],
        away_teams: Sequence[str],
        home_goals: Sequence[int],
        away_goals: Sequence[int],
        weights: Sequence[float] | None = None,
    ) -> float:
        """Σ w log P(score) of the given matches under this model (untruncated Dixon-Coles probabilities).

        −inf if some observed score has τ ≤ 0. This is the likelihood the fit maximises (before the penalty).
        """
        home_index, away_index, _, _ = self._fixture_indices(home_teams, away_teams)
        home = as_goal_array(home_goals, "home_goals")
        away = as_goal_array(away_goals, "away_goals")
        w = np.ones(len(home)) if weights is None else np.asarray(weights, dtype=np.float64)
        if not (len(home) == len(away) == len(w) == len(home_index)):
            raise ValueError("teams, goals and weights must have the same length")
        size = self.n_teams + 1
        home_index = np.where(home_index < 0, size - 1, home_index)
        away_index = np.where(away_index < 0, size - 1, away_index)
        attack, defence = self._extended_strengths()
        problem = WeightedLikelihood(
            home_index, away_index, home, away, w, size, 0.0, np.zeros(size), np.zeros(size)
        )
        theta = np.concatenate([attack, defence, [self.intercept, self.home_advantage, self.rho]])
        return problem.log_likelihood(theta)

    def rho_interval(self) -> tuple[float, float]:
        """Valid ρ region over every pairing of the fitted teams and the unseen-team prior."""
        theta = np.concatenate([self.attack, self.defence, [self.intercept, self.home_advantage, self.rho]])
        return rho_interval_for(theta, self.n_teams, self.prior_attack, self.prior_defence)

    # -- explanation --------------------------------------------------------------------------------

    def lambda_decomposition(self, home_team: str, away_team: str) -> dict[str, Any]:
        """Additive terms of log λ_home and log λ_away for one fixture, and each term's effect in goals.

        A term's `goals_effect` is λ − λ·exp(−term): how many expected goals it adds compared with the same
        fixture without that term. The dict is plain JSON (floats, strings, lists).
        """
        self._fixture_indices([home_team], [away_team])
        home_attack, home_defence, home_unseen = self.strengths(home_team)
        away_attack, away_defence, away_unseen = self.strengths(away_team)
        home_terms = [
            ("intercept", self.intercept),
            ("home_advantage", self.home_advantage),
            ("home_attack", home_attack),
            ("away_defence", -away_defence),
        ]
        away_terms = [
            ("intercept", self.intercept),
            ("away_attack", away_attack),
            ("home_defence", -home_defence),
        ]

        def side(terms: list[tuple[str, float]]) -> dict[str, Any]:
            log_lambda = math.fsum(value for _, value in terms)
            lam = math.exp(log_lambda)
            return {
                "log_lambda": log_lambda,
                "lambda": lam,
                "terms": [
                    {
                        "name": name,
                        "log_value": value,
                        "lambda_without": lam * math.exp(-value),
                        "goals_effect": lam - lam * math.exp(-value),
                    }
                    for name, value in terms
                ],
            }

        flags = [flag for flag, raised in ((UNSEEN_HOME_FLAG, home_unseen), (UNSEEN_AWAY_FLAG, away_unseen)) if raised]
        return {
            "home_team": home_team,
            "away_team": away_team,
            "parametrisation": "log λ_home = intercept + home_advantage + attack[home] − defence[away]; "
            "log λ_away = intercept + attack[away] − defence[home]",
            "home": side(home_terms),
            "away": side(away_terms),
            "lambda_home": math.exp(math.fsum(v for _, v in home_terms)),
            "lambda_away": math.exp(math.fsum(v for _, v in away_terms)),
            "rho": self.rho,
            "flags": flags,
        }

    # -- serialisation ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON snapshot; `from_dict(to_dict())` reproduces every number exactly."""
        return {
            "format": SERIALISATION_FORMAT,
            "teams": list(self.teams),
            "attack": [float(v) for v in self.attack],
            "defence": [float(v) for v in self.defence],
            "intercept": self.intercept,
            "home_advantage": self.home_advantage,
            "rho": self.rho,
            "prior_attack": self.prior_attack,
            "prior_defence": self.prior_defence,
            "config": dataclasses.asdict(self.config),
            "reference_date": None if self.reference_date is None else self.reference_date.isoformat(),
            "promoted_teams": list(self.promoted_teams),
            "diagnostics": None if self.diagnostics is None else self.diagnostics.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DixonColesFit:
        if data.get("format") != SERIALISATION_FORMAT:
            raise ValueError(
                f"not a Dixon-Coles fit snapshot (format {data.get('format')!r}, expected {SERIALISATION_FORMAT!r})"
            )
        return cls(
            teams=tuple(data["teams"]),
            attack=np.array(data["attack"], dtype=np.float64),
            defence=np.array(data["defence"], dtype=np.float64),
            intercept=data["intercept"],
            home_advantage=data["home_advantage"],
            rho=data["rho"],
            prior_attack=data["prior_attack"],
            prior_defence=data["prior_defence"],
            config=DixonColesConfig(**data["config"]),
            reference_date=None if data["reference_date"] is None else dt.date.fromisoformat(data["reference_date"]),
            promoted_teams=tuple(data["promoted_teams"]),
            diagnostics=None if data["diagnostics"] is None else FitDiagnostics.from_dict(data["diagnostics"]),
        )
