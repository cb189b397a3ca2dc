"""Publishing stages: a partition is published from the warehouse versions named in its inputs, to one
target database (its identity is a setting, so pointing at another database republishes everything)."""

from __future__ import annotations

from jackpot_pipeline.planning.stages import Inputs, PipelineState, Stage

PUBLISH_CODE_VERSION = "3"
LEAGUE_SEASON_SOURCES = ("canonical_matches", "ingestion_log", "team_strength_snapshots", "match_predictions",
                         "validation_reports", "calibration_curves", "team_form_features", "league_baselines")
CATALOG_SOURCES = ("teams", "model_registry", "training_runs")


def _league_season_inputs(partition: str | None, state: PipelineState) -> Inputs:
    return dict(state.key(asset, partition) for asset in LEAGUE_SEASON_SOURCES)


def _catalog_inputs(partition: str | None, state: PipelineState) -> Inputs:
    return dict(state.key(asset) for asset in CATALOG_SOURCES)


def _jackpot_inputs(partition: str | None, state: PipelineState) -> Inputs:
    return dict([state.key("jackpot_predictions", partition)])


def publish_stages(target: str) -> tuple[Stage, ...]:
    """The publishing stages for the database ``target`` (see ``PostgresResource.target``)."""
    settings = {"target": target}
    group = "publish"
    return (
        Stage("publish_league_season", (
            "published_matches", "published_ingestion_logs", "published_team_strength_snapshots",
            "published_match_predictions", "published_validation_reports", "published_calibration_curves",
            "published_team_form_features", "published_league_baselines",
        ), "league_season", _league_season_inputs, PUBLISH_CODE_VERSION, settings, reads=LEAGUE_SEASON_SOURCES, group=group),
        Stage("publish_catalog", ("published_leagues", "published_teams", "published_models"), "global",
              _catalog_inputs, PUBLISH_CODE_VERSION, settings, reads=CATALOG_SOURCES, group=group),
        Stage("publish_jackpots", ("published_jackpots",), "jackpot", _jackpot_inputs, PUBLISH_CODE_VERSION, settings,
              reads=("jackpot_predictions",), group=group),
    )


def publish_stage(name: str, target: str) -> Stage:
    return next(stage for stage in publish_stages(target) if stage.name == name)
