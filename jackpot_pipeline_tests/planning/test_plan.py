"""The planner: what is stale, what runs next, in which batches; pure, on the real stage list."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from jackpot_pipeline.planning.pipeline import STAGES, stage_named, stages_after
from jackpot_pipeline.planning.plan import RunPlan, next_runs, plan
from jackpot_pipeline.planning.stages import (
    PipelineState,
    earlier_seasons,
    league_seasons_in_order,
    training_window,
)

KEYS = ("E0|2122", "E0|2223", "E0|2324", "SP1|2223", "SP1|2324", "ARG|2022", "ARG|2023")


def state(keys=KEYS, *, configured=None, jackpots=(), cards=None) -> PipelineState:
    return PipelineState(
        league_seasons=tuple(keys), configured=frozenset(configured) if configured is not None else None,
        jackpots=tuple(jackpots), files={"source": {key: f"src-{key}" for key in keys}, "card": dict(cards or {}),
                                         "results": {}},
    )


def run_everything(current: PipelineState, stages=STAGES, rounds: int = 30) -> PipelineState:
    """What the pipeline leaves behind: every stale partition recomputed in stage order, its outputs given a
    version derived from its inputs (so equal inputs give equal versions, as content hashes do)."""
    for _ in range(rounds):
        pending = plan(stages, current).pending
        runnable = [w for w in pending if w.runnable]
        if not runnable:
            assert not pending, f"stuck with {pending}"
            return current
        versions = {asset: dict(found) for asset, found in current.versions.items()}
        fingerprints = {stage: dict(found) for stage, found in current.fingerprints.items()}
        by_name = {stage.name: stage for stage in stages}
        for work in runnable:
            stage = by_name[work.stage]
            inputs = stage.inputs(work.partition, current)
            for asset in stage.assets:
                versions.setdefault(asset, {})[work.partition] = hashlib.sha256(repr(sorted(inputs.items())).encode()).hexdigest()[:8]
            fingerprints.setdefault(stage.name, {})[work.partition] = stage.fingerprint(inputs)
        current = dataclasses.replace(current, versions=versions, fingerprints=fingerprints)
    raise AssertionError("the plan did not converge")


def changed_source(current: PipelineState, key: str) -> PipelineState:
    files = {**current.files, "source": {**current.files["source"], key: "changed"}}
    return dataclasses.replace(current, files=files)


def pending(current: PipelineState, **kwargs) -> dict[str, list[str | None]]:
    found: dict[str, list[str | None]] = {}
    for work in plan(STAGES, current, **kwargs).pending:
        found.setdefault(work.stage, []).append(work.partition)
    return found


def test_windows_and_earlier_seasons_follow_season_dates():
    keys = ["ARG|2023", "E0|2324", "E0|2122", "ARG|1920", "E0|2223", "ARG|2022"]
    assert league_seasons_in_order(keys, "ARG") == ["ARG|1920", "ARG|2022", "ARG|2023"]
    assert training_window(keys, "E0|2324", 2) == ["E0|2122", "E0|2223", "E0|2324"]
    assert training_window(keys, "E0|2122", 2) == ["E0|2122"]
    # a calendar season 2023 starts 1 January 2023, so 2022/23 (July 2022) is earlier and 2023/24 is not
    assert sorted(earlier_seasons(keys, "ARG|2023")) == ["ARG|1920", "ARG|2022", "E0|2122", "E0|2223"]


def test_an_empty_instance_plans_everything_and_runs_ingestion_first():
    current = state()
    found = pending(current)
    assert found["ingest"] == list(KEYS)
    assert set(found) == {"ingest", "walk_forward", "calibration", "match_predictions", "validation_reports",
                          "form_features", "teams", "validation_summary", "model_registry", "data_freshness"}
    # besides ingestion, only what reads nothing pending may run: the calibration of the first season of
    # all (nothing starts before it)
    early = [(w.stage, w.partition) for w in plan(STAGES, current).pending if w.runnable and w.stage != "ingest"]
    assert early == [("calibration", "E0|2122")]
    runs = next_runs(STAGES, plan(STAGES, current), current, {"league_season": KEYS})
    assert [(r.stages, r.partitions) for r in runs] == [(("ingest",), KEYS)]


def test_after_everything_ran_nothing_is_stale_and_one_changed_file_is_one_chain():
    done = run_everything(state())
    assert plan(STAGES, done).is_empty
    # the latest season of a league: later seasons do not exist, earlier ones do not read it
    found = pending(changed_source(done, "E0|2324"))
    assert found["ingest"] == ["E0|2324"] and found["walk_forward"] == ["E0|2324"]
    assert "calibration" not in found  # no season starts after 2023/24 here
    assert found["form_features"] == ["E0|2324"]
    assert set(found) - {"ingest", "walk_forward", "match_predictions", "validation_reports", "form_features"} == {
        "teams", "validation_summary", "model_registry", "data_freshness"}
    changed = changed_source(done, "E0|2324")
    (chain,) = next_runs(STAGES, plan(STAGES, changed), changed, {"league_season": KEYS})
    assert chain.stages == ("ingest", "walk_forward", "match_predictions", "validation_reports", "form_features")
    assert chain.partitions == ("E0|2324",)


def test_an_older_season_reaches_later_windows_and_every_later_calibration():
    done = run_everything(state())
    found = pending(changed_source(done, "E0|2122"))
    assert found["walk_forward"] == ["E0|2122", "E0|2223", "E0|2324"]
    assert found["form_features"] == ["E0|2122", "E0|2223"]  # form reaches one season back
    # calibration of every league-season starting after 2021/22 starts read E0 2021/22's predictions
    assert found["calibration"] == ["E0|2223", "E0|2324", "SP1|2223", "SP1|2324", "ARG|2022", "ARG|2023"]
    assert run_everything(changed_source(done, "E0|2122")) != done


def test_a_failed_attempt_is_left_alone_and_downstream_keeps_its_stored_inputs():
    done = run_everything(state())
    changed = changed_source(done, "SP1|2223")
    (run,) = next_runs(STAGES, plan(STAGES, changed), changed, {"league_season": KEYS})
    assert run.stages[0] == "ingest"
    attempted = dict(run.fingerprints)  # the run failed: nothing recorded
    after = plan(STAGES, changed, attempted)
    assert [(w.stage, w.partition) for w in after.failed] == [("ingest", "SP1|2223")]
    assert after.is_empty  # nothing downstream waits for it or is recomputed from it
    again = changed_source(changed, "SP1|2223")  # the file changes once more: tried again
    assert pending(dataclasses.replace(again, files={**again.files, "source": {**again.files["source"], "SP1|2223": "v3"}}),
                   attempted=attempted)["ingest"] == ["SP1|2223"]


def test_ranges_never_cross_keys_that_are_not_configured_and_close_gaps_to_save_runs():
    current = state(configured=set(KEYS) - {"E0|2324"})
    runs = next_runs(STAGES, plan(STAGES, current), current, {"league_season": KEYS})
    assert [r.partitions for r in runs] == [("E0|2122", "E0|2223"), ("SP1|2223", "SP1|2324", "ARG|2022", "ARG|2023")]
    many = tuple(f"E0|{y % 100:02d}{(y + 1) % 100:02d}" for y in range(2000, 2020))
    done = run_everything(state(many))
    scattered = done
    for key in many[::3]:  # every third season's file changes
        scattered = changed_source(scattered, key)
    runs = next_runs(STAGES, plan(STAGES, scattered), scattered, {"league_season": many}, max_runs_per_stage=2)
    assert len(runs) == 2 and sum(len(r.partitions) for r in runs) > len(many[::3])
    assert all(r.stages == ("ingest",) for r in runs)


def test_unpartitioned_stages_run_together_and_cards_wait_for_the_model():
    cards = {"j1": "sha-1"}
    current = state(jackpots=("j1",), cards=cards)
    found = pending(current)
    assert found["jackpot_predictions"] == ["j1"]
    blocked = [w for w in plan(STAGES, current).pending if w.stage == "jackpot_predictions"]
    assert not blocked[0].runnable  # teams, snapshots and calibration are pending
    after_ingest = run_everything(current, stages=STAGES[:6])  # the league × season stages only
    runs = next_runs(STAGES, plan(STAGES, after_ingest), after_ingest, {"league_season": KEYS, "jackpot": ("j1",)})
    assert [r.stages for r in runs] == [("teams", "validation_summary", "model_registry", "data_freshness")]
    finished = run_everything(current)
    assert plan(STAGES, finished).is_empty
    # a newer model never makes a finalised card stale; its outputs follow new results
    newer = changed_source(finished, "E0|2324")
    assert "jackpot_predictions" not in pending(newer) and pending(newer)["jackpot_outputs"] == ["j1"]


def test_run_keys_name_the_work_and_its_inputs():
    done = run_everything(state())
    one = next_runs(STAGES, plan(STAGES, changed_source(done, "E0|2324")), changed_source(done, "E0|2324"),
                    {"league_season": KEYS})[0]
    same = next_runs(STAGES, plan(STAGES, changed_source(done, "E0|2324")), changed_source(done, "E0|2324"),
                     {"league_season": KEYS})[0]
    assert isinstance(one, RunPlan) and one.run_key == same.run_key
    other = changed_source(done, "E0|2324")
    other = dataclasses.replace(other, files={**other.files, "source": {**other.files["source"], "E0|2324": "v3"}})
    assert next_runs(STAGES, plan(STAGES, other), other, {"league_season": KEYS})[0].run_key != one.run_key
    assert one.label() == "ingest+walk_forward+match_predictions+validation_reports+form_features E0|2324"


def test_settings_are_part_of_the_fingerprint():
    stage = stage_named("validation_reports")
    changed = dataclasses.replace(stage, settings={**stage.settings, "n_bins": 20})
    assert stage.fingerprint({"x": "1"}) != changed.fingerprint({"x": "1"})
    assert stages_after("walk_forward")[:3] == ["calibration_curves", "match_predictions", "validation_reports"]
    assert "published_matches" in stages_after("walk_forward") and "teams" not in stages_after("walk_forward")
    with pytest.raises(KeyError, match="no stage 'nope'"):
        stage_named("nope")


def test_the_walk_forward_reads_the_division_below_for_promoted_teams():
    keys = (*KEYS, "E1|2122", "E1|2223", "E1|2324")
    done = run_everything(state(keys))
    inputs = stage_named("walk_forward").inputs("E0|2324", done)
    assert sorted(inputs) == [f"canonical_matches[{league}|{season}]" for league in ("E0", "E1")
                              for season in ("2122", "2223", "2324")]
    assert all(inputs.values())
    # E1's own division below (E2) is not known here: its window is its own seasons
    assert sorted(stage_named("walk_forward").inputs("E1|2324", done)) == [
        "canonical_matches[E1|2122]", "canonical_matches[E1|2223]", "canonical_matches[E1|2324]"]
    # a changed E1 season refits E0 from that season on, never earlier E0 seasons' windows
    found = pending(changed_source(done, "E1|2324"))
    assert found["walk_forward"] == ["E0|2324", "E1|2324"]


def test_walk_forward_reads_the_longer_history_of_its_league_and_the_window_of_the_division_below():
    from jackpot_pipeline.model.walk_forward import DEFAULT_WALK_FORWARD

    seasons = ["1718", "1819", "1920", "2021", "2122", "2223", "2324"]
    keys = [f"{league}|{season}" for league in ("E0", "E1") for season in seasons]
    current = run_everything(state(keys))
    inputs = stage_named("walk_forward").inputs("E0|2324", current)
    history = DEFAULT_WALK_FORWARD.history_seasons
    assert history == 4 > DEFAULT_WALK_FORWARD.previous_seasons == 2
    assert sorted(inputs) == sorted(
        [f"canonical_matches[E0|{s}]" for s in seasons[-1 - history:]]
        + [f"canonical_matches[E1|{s}]" for s in seasons[-3:]])
    # a result four seasons back changes the season-start fit, so the partition is stale; five back does not
    assert pending(changed_source(current, "E0|1920"))["walk_forward"][-1] == "E0|2324"
    assert "E0|2324" not in pending(changed_source(current, "E0|1819"))["walk_forward"]
