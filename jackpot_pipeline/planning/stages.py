"""The pipeline's stages and, for each partition of each stage, the exact upstream versions its result
depends on.

A stage is a group of assets computed together (ingestion writes four tables from one file). Its result
for a partition is current when the fingerprint recorded with its latest materialization equals the
fingerprint of what it would read now: the stage's code version and settings, and the data versions of
every upstream partition it reads. The same functions decide this for ``make run``, the sensors, and the
assets themselves (which record the fingerprint they computed), so there is one notion of "stale".

Input keys read ``asset[partition]`` (``asset`` alone for an unpartitioned asset). Three inputs come
from files rather than assets: ``source[E0|2324]``, the version of a partition's slice of its CSV file;
``card[<jackpot_id>]``, the sha256 of a card file; ``results[<jackpot_id>]``, the sha256 of the results
file beside it.
"""

from __future__ import annotations

import functools

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from jackpot_pipeline.sources.leagues import LOWER_DIVISION, SeasonError, season_window

Scope = Literal["league_season", "jackpot", "global"]
Inputs = dict[str, str | None]
FILE_INPUTS = ("source", "card", "results")


@dataclass(frozen=True)
class PipelineState:
    """What the planner knows: the partitions that should exist and the versions recorded so far.

    ``league_seasons`` holds every league × season key the instance knows (what the stages read), in
    Dagster's key order; ``configured`` the ones to keep current (None: all of them). ``versions[asset]
    [partition]`` is the latest data version (partition None for unpartitioned assets);
    ``fingerprints[stage][partition]`` the fingerprint recorded by the stage's latest materialization.
    """

    league_seasons: tuple[str, ...] = ()
    configured: frozenset[str] | None = None
    jackpots: tuple[str, ...] = ()
    files: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # "source" | "card" | "results"
    versions: Mapping[str, Mapping[str | None, str]] = field(default_factory=dict)
    fingerprints: Mapping[str, Mapping[str | None, str]] = field(default_factory=dict)

    def version(self, asset: str, partition: str | None = None) -> str | None:
        if asset in FILE_INPUTS:
            return self.files.get(asset, {}).get(partition or "")
        return self.versions.get(asset, {}).get(partition)

    def key(self, asset: str, partition: str | None = None) -> tuple[str, str | None]:
        return f"{asset}[{partition}]" if partition is not None else asset, self.version(asset, partition)


@dataclass(frozen=True)
class Stage:
    name: str
    assets: tuple[str, ...]
    scope: Scope
    inputs: Callable[[str | None, PipelineState], Inputs]
    code_version: str = "1"
    settings: Mapping[str, object] = field(default_factory=dict)
    # assets that must not have pending work before this stage runs, beyond its fingerprinted inputs
    # (a finalised jackpot reads the model, but a newer model must never make it stale)
    after: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()  # the assets (and file inputs) whose versions ``inputs`` looks up
    group: str = "pipeline"  # stages of one group may share a run (a chain of one partition); publishing is another

    def fingerprint(self, inputs: Inputs) -> str:
        payload = json.dumps(
            {"stage": self.name, "code": self.code_version, "settings": self.settings, "inputs": inputs},
            sort_keys=True, default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:32]


def league_and_season(partition: str) -> tuple[str, str]:
    league, season = partition.split("|", 1)
    return league, season


@functools.lru_cache(maxsize=65536)  # the planner asks about every pair of partitions; the answer never changes
def season_start(partition: str):
    league, season = league_and_season(partition)
    try:
        return season_window(league, season).first_day
    except SeasonError:
        return None


def league_seasons_in_order(partitions: Sequence[str], league: str) -> list[str]:
    """A league's partitions by the first day of their season (calendar-year and split keys compare right)."""
    mine = [p for p in partitions if league_and_season(p)[0] == league and season_start(p) is not None]
    return sorted(mine, key=lambda p: (season_start(p), p))


def training_window(partitions: Sequence[str], partition: str, previous_seasons: int) -> list[str]:
    """``partition`` and up to ``previous_seasons`` earlier seasons of its league that exist."""
    order = league_seasons_in_order(partitions, league_and_season(partition)[0])
    if partition not in order:
        return [partition]
    position = order.index(partition)
    return order[max(0, position - previous_seasons) : position + 1]


def earlier_seasons(partitions: Sequence[str], partition: str) -> list[str]:
    """Every partition (any league) whose season starts before ``partition``'s: the only ones that can hold
    matches dated before it starts."""
    start = season_start(partition)
    if start is None:
        return []
    return [p for p in partitions if (s := season_start(p)) is not None and s < start]


def _keys(state: PipelineState, asset: str, partitions: Sequence[str | None]) -> Inputs:
    return dict(state.key(asset, p) for p in partitions)


# --- input functions, one per stage -------------------------------------------------------------------


def source_inputs(partition: str | None, state: PipelineState) -> Inputs:
    return _keys(state, "source", [partition])


def all_canonical_inputs(partition: str | None, state: PipelineState) -> Inputs:
    return _keys(state, "canonical_matches", list(state.league_seasons))


def walk_forward_inputs(previous_seasons: int, lower_division: bool = False,
                        history_seasons: int = 0) -> Callable[[str | None, PipelineState], Inputs]:
    """The league's seasons of the training window, or of the longer history a season-start fit reads
    (``history_seasons`` earlier seasons); with ``lower_division``, also the training window's seasons of the
    division below where the instance has them (promoted teams start from their strengths there)."""

    def inputs(partition: str | None, state: PipelineState) -> Inputs:
        assert partition is not None
        window = training_window(state.league_seasons, partition, previous_seasons)
        league_seasons = training_window(state.league_seasons, partition, max(previous_seasons, history_seasons))
        lower = LOWER_DIVISION.get(league_and_season(partition)[0]) if lower_division else None
        if lower is not None:
            known = set(state.league_seasons)
            league_seasons = league_seasons + [
                key for p in window if (key := f"{lower}|{league_and_season(p)[1]}") in known]
        return _keys(state, "canonical_matches", league_seasons)

    return inputs


def calibration_inputs(partition: str | None, state: PipelineState) -> Inputs:
    assert partition is not None
    return _keys(state, "uncalibrated_predictions", earlier_seasons(state.league_seasons, partition))


def match_prediction_inputs(partition: str | None, state: PipelineState) -> Inputs:
    return {**_keys(state, "uncalibrated_predictions", [partition]), **_keys(state, "calibration_curves", [partition])}


def validation_report_inputs(partition: str | None, state: PipelineState) -> Inputs:
    return _keys(state, "match_predictions", [partition])


def summary_inputs(partition: str | None, state: PipelineState) -> Inputs:
    return _keys(state, "match_predictions", list(state.league_seasons))


def registry_inputs(partition: str | None, state: PipelineState) -> Inputs:
    seasons = list(state.league_seasons)
    return {
        **_keys(state, "validation_reports", seasons),
        **_keys(state, "canonical_matches", seasons),
        **_keys(state, "match_predictions", seasons),
    }


def card_inputs(partition: str | None, state: PipelineState) -> Inputs:
    return _keys(state, "card", [partition])


def jackpot_output_inputs(partition: str | None, state: PipelineState) -> Inputs:
    # results come from the file beside the card, else from ingested matches
    return {**_keys(state, "jackpot_predictions", [partition]), **_keys(state, "results", [partition]),
            **all_canonical_inputs(None, state)}
