"""The pure validation core on real walk-forward output, and its registry rules on hand-made versions."""

from __future__ import annotations

import datetime as dt
import math
import time

import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.model import metrics
from jackpot_pipeline.model import validation as v

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NOW = dt.datetime(2026, 1, 4, 2, 0)


# --- metrics on real predictions --------------------------------------------------------------------


def test_real_metrics_are_sane(real_long):
    report = v.evaluate_sets(real_long)
    assert report.columns.tolist() == v.METRIC_COLUMNS
    # these predictions come from a walk-forward without the baseline beside it: every set but A0, in order
    assert report["set_id"].tolist() == [s for s in v.SET_ORDER if s not in v.BASELINE_SETS]
    by_set = report.set_index("set_id")
    assert 0.19 <= by_set.loc["A", "rps"] <= 0.23
    for market in v.MARKET_SETS:
        # the market beats the pure model on average, paired on the same matches
        assert by_set.loc[market, "rps"] < by_set.loc["A", "rps"]
        assert by_set.loc["A", f"rps_diff_{market}"] > 0
        assert by_set.loc["A", f"log_loss_diff_{market}"] > 0
        assert (by_set[f"rps_diff_{market}_se"].drop(market) > 0).all()
        assert by_set.loc[market, f"rps_diff_{market}"] == 0.0
    assert (by_set[["rps_se", "log_loss_se"]] > 0).all().all()
    assert (by_set["ece"].between(0, 0.1)).all() and (by_set["accuracy"].between(0.4, 0.6)).all()
    # the paired SE is several times smaller than the SE of the mean itself: why gaps are judged paired
    assert by_set.loc["A", "rps_diff_market_pre_se"] < by_set.loc["A", "rps_se"] / 2


def test_numbers_equal_the_metrics_module(real_long):
    report = v.evaluate_sets(real_long).set_index("set_id")
    played = real_long[real_long["status"] == "played"]
    a = played[played["set_id"] == "A"].sort_values("match_id")
    pre = played[played["set_id"] == "market_pre"].sort_values("match_id")
    outcomes = metrics.encode_outcomes(a["result"].to_numpy())
    probs = a[list(v.PROB_COLUMNS)].to_numpy()
    assert report.loc["A", "n"] == len(a)
    assert report.loc["A", "rps"] == pytest.approx(metrics.ranked_probability_score(probs, outcomes), rel=1e-12)
    assert report.loc["A", "brier"] == pytest.approx(metrics.brier_score(probs, outcomes), rel=1e-12)
    assert report.loc["A", "log_loss"] == pytest.approx(metrics.log_loss(probs, outcomes), rel=1e-12)
    assert report.loc["A", "accuracy"] == pytest.approx(metrics.accuracy(probs, outcomes))
    assert report.loc["A", "ece"] == pytest.approx(metrics.expected_calibration_error(probs, outcomes), rel=1e-12)
    both = pre[list(v.PROB_COLUMNS)].notna().all(axis=1).to_numpy()
    paired = metrics.compare_forecasts(probs[both], pre[list(v.PROB_COLUMNS)].to_numpy()[both], outcomes[both])
    assert report.loc["A", "n_paired_market_pre"] == paired.n
    assert report.loc["A", "rps_diff_market_pre"] == pytest.approx(paired.mean_difference, rel=1e-9)
    assert report.loc["A", "rps_diff_market_pre_se"] == pytest.approx(paired.standard_error, rel=1e-9)


def test_missing_probabilities_leave_the_set_and_the_pairs(real_long):
    frame = real_long.copy()
    pre = frame.index[(frame["set_id"] == "market_pre") & (frame["status"] == "played")]
    dropped = pre[:50]
    frame.loc[dropped, list(v.PROB_COLUMNS)] = np.nan
    before = v.evaluate_sets(real_long).set_index("set_id")
    after = v.evaluate_sets(frame).set_index("set_id")
    assert after.loc["market_pre", "n"] == before.loc["market_pre", "n"] - 50
    assert after.loc["market_pre", "n_missing"] == before.loc["market_pre", "n_missing"] + 50
    assert after.loc["A", "n"] == before.loc["A", "n"]  # A's own metrics keep every match
    assert after.loc["A", "n_paired_market_pre"] == before.loc["A", "n_paired_market_pre"] - 50
    assert after.loc["A", "n_paired_market_close"] == before.loc["A", "n_paired_market_close"]


def test_only_played_matches_after_the_index_count(real_long):
    report = v.evaluate_sets(real_long, min_season_match_index=100).set_index("set_id")
    a = real_long[(real_long["set_id"] == "A") & (real_long["status"] == "played")]
    assert report.loc["A", "n"] == int((a["season_match_index"] > 100).sum())
    future = real_long.copy()
    future.loc[future["match_id"].isin(a["match_id"].iloc[:10]), ["status", "result"]] = ["scheduled", None]
    assert v.evaluate_sets(future).set_index("set_id").loc["A", "n"] == len(a) - 10


def test_a_duplicated_match_and_set_is_refused(real_long):
    with pytest.raises(ValueError, match="more than one row for set A"):
        v.evaluate_sets(pd.concat([real_long, real_long[real_long["set_id"] == "A"].head(1)]))


def test_evaluate_by_splits_and_orders(real_long):
    by = v.evaluate_by(real_long)
    assert set(zip(by["league"], by["season"], strict=True)) == {(lg, s) for lg in ("E0", "D1") for s in ("2021", "2122", "2223", "2324")}
    e0 = by[(by["league"] == "E0") & (by["season"] == "2324") & (by["set_id"] == "A")].iloc[0]
    assert e0["n"] == 380 and e0["n_scheduled"] == 0
    assert e0["first_match_date"] < e0["last_match_date"]


def test_evaluation_of_100k_rows_takes_seconds(real_long):
    copies = []
    for k in range(5):  # ~124k rows, distinct matches
        copy = real_long.copy()
        copy["match_id"] = copy["match_id"] + f"-{k}"
        copies.append(copy)
    big = pd.concat(copies, ignore_index=True)
    assert len(big) > 100_000
    start = time.perf_counter()
    report = v.evaluate_sets(big)
    by = v.evaluate_by(big)
    table = v.reliability_table(big)
    elapsed = time.perf_counter() - start
    assert elapsed < 10, elapsed
    assert report.set_index("set_id").loc["A", "n"] == 5 * v.evaluate_sets(real_long).set_index("set_id").loc["A", "n"]
    assert len(by) and len(table)


# --- reliability ------------------------------------------------------------------------------------


def test_reliability_table_matches_the_curve(real_long):
    table = v.reliability_table(real_long, set_ids=["A", "market_close"], n_bins=10)
    assert table.columns.tolist() == v.RELIABILITY_COLUMNS
    a = real_long[(real_long["set_id"] == "A") & (real_long["status"] == "played")]
    curve = metrics.reliability_curve(a[list(v.PROB_COLUMNS)].to_numpy(), metrics.encode_outcomes(a["result"]), outcome=metrics.DRAW)
    draws = table[(table["set_id"] == "A") & (table["outcome"] == "D")]
    assert draws["count"].tolist() == curve.counts.tolist()
    np.testing.assert_allclose(draws["observed_frequency"].to_numpy(), curve.observed_frequency, equal_nan=True)
    for (_, _), rows in table.groupby(["set_id", "outcome"]):
        assert rows["count"].sum() == (len(a) if rows["set_id"].iloc[0] == "A" else rows["count"].sum())
    payload = v.reliability_json(table, "A")
    assert '"D"' in payload and "NaN" not in payload


def test_png_is_a_png_and_deterministic(real_long):
    table = v.reliability_table(real_long)
    first = v.reliability_png(table, "E0 and D1, 2020/21-2023/24")
    second = v.reliability_png(v.reliability_table(real_long.sample(frac=1.0, random_state=3)), "E0 and D1, 2020/21-2023/24")
    assert first.startswith(PNG_SIGNATURE)
    assert first == second  # row order and a second drawing change nothing
    assert b"matplotlib" not in first.lower()  # no software stamp
    assert v.reliability_png(table, "another title") != first
    mapping = v.reliability_png({"A": table[table["set_id"] == "A"].drop(columns="set_id")}, "mapping form")
    assert mapping.startswith(PNG_SIGNATURE)
    markdown = v.png_markdown(first, "reliability")
    assert markdown.startswith("![reliability](data:image/png;base64,")


def test_markdown_lists_every_set_against_both_markets(real_long):
    text = v.metrics_markdown(v.evaluate_sets(real_long))
    assert "ΔRPS vs pre" in text and "ΔRPS vs close" in text
    for set_id in v.SET_ORDER:  # real_long comes from a walk-forward without the A0 baseline beside it
        assert (f"| {set_id} |" in text) == (set_id not in v.BASELINE_SETS)


# --- health -----------------------------------------------------------------------------------------


def _row(**overrides):
    row = {
        "set_id": "A", "n": 2000, "n_missing": 0, "rps": 0.205, "rps_se": 0.002, "brier": 0.6, "log_loss": 1.0,
        "log_loss_se": 0.01, "ece": 0.01, "ece_noise": 0.01, "accuracy": 0.5, "n_paired_market_pre": 2000,
        "rps_diff_market_pre": 0.005, "rps_diff_market_pre_se": 0.001,
    }
    return {**row, **overrides}


@pytest.mark.parametrize(
    ("overrides", "status", "reason"),
    [
        ({}, "healthy", None),
        ({"rps_diff_market_pre": 0.010}, "warning", "RPS gap"),
        ({"rps_diff_market_pre": 0.020}, "critical", "RPS gap"),
        ({"log_loss": 1.2}, "critical", "uniform"),
        ({"log_loss": math.inf}, "critical", "infinite log loss"),
        ({"ece": 0.03, "ece_noise": 0.01}, "warning", "ECE"),
        ({"ece": 0.05, "ece_noise": 0.01}, "critical", "ECE"),
        ({"n_missing": 3}, "warning", "no A probabilities"),
        ({"n": 40, "n_paired_market_pre": 40, "rps_diff_market_pre": 0.05, "log_loss": 1.3}, "healthy", "too few"),
    ],
)
def test_health_thresholds(overrides, status, reason):
    report = v.assess_health(_row(**overrides))
    assert report.status == status
    if reason:
        assert any(reason in text for text in report.reasons), report.reasons


def test_health_thresholds_are_configurable():
    strict = v.HealthThresholds(rps_gap_warning=0.001, rps_gap_critical=0.004)
    assert v.assess_health(_row(), strict).status == "critical"


def test_health_on_real_predictions(real_long):
    report = v.assess_sets(v.evaluate_sets(real_long)).set_index("set_id")
    assert report.loc["A", "health"] == "healthy"
    assert report.loc["market_pre", "health"] == "healthy"
    # E sharpens B (p^1.5): deliberately overconfident, and the calibration check sees it
    assert report.loc["E", "health"] in ("warning", "critical") and "ECE" in report.loc["E", "health_reasons"]


def test_worst_status():
    assert v.worst_status([]) == "healthy"
    assert v.worst_status(["healthy", "warning"]) == "warning"
    assert v.worst_status(["warning", "critical", "healthy"]) == "critical"


# --- drift ------------------------------------------------------------------------------------------


def _seasons(values, ses=None, league="E0", n=380):
    seasons = ["1819", "1920", "2021", "2122", "2223", "2324"][-len(values):]
    ses = ses or [0.0025] * len(values)
    return pd.DataFrame({
        "league": league, "season": seasons, "set_id": "A", "n": n, "n_paired_market_pre": n,
        "first_match_date": [pd.Timestamp(f"20{s[:2]}-08-10") for s in seasons],
        "rps_diff_market_pre": values, "rps_diff_market_pre_se": ses,
    })


@pytest.mark.parametrize(
    ("values", "status", "flag"),
    [
        ([0.005, 0.006, 0.005, 0.0055], "ok", ""),
        ([0.005, 0.006, 0.005, 0.0135], "warning", "drift_worse"),
        ([0.005, 0.006, 0.005, 0.0200], "critical", "drift_worse"),
        ([0.005, 0.006, 0.005, -0.004], "improved", "drift_better"),
        ([0.005, 0.020], "insufficient_data", "only 1 earlier seasons"),
    ],
)
def test_drift_flags(values, status, flag):
    drift = v.detect_drift(_seasons(values))
    assert drift.columns.tolist() == v.DRIFT_COLUMNS
    row = drift.iloc[0]
    assert row["status"] == status
    assert flag in row["flags"]
    if status in ("ok", "warning", "critical", "improved"):
        baseline = np.mean(values[-4:-1])
        assert row["baseline_value"] == pytest.approx(baseline)
        assert row["z"] == pytest.approx((values[-1] - baseline) / math.sqrt(0.0025**2 + 3 * 0.0025**2 / 9))
        assert row["baseline_seasons"] == "2021,2122,2223"


def test_drift_uses_the_trailing_k_seasons_and_skips_thin_seasons():
    frame = _seasons([0.1, 0.005, 0.005, 0.005, 0.005, 0.005])
    row = v.detect_drift(frame, v.DriftThresholds(baseline_seasons=3)).iloc[0]
    assert row["baseline_seasons"] == "2021,2122,2223" and row["status"] == "ok"
    thin = _seasons([0.005, 0.005, 0.005, 0.05])
    thin.loc[3, ["n", "n_paired_market_pre"]] = 30
    assert v.detect_drift(thin).iloc[0]["status"] == "insufficient_data"


def test_drift_on_real_predictions(real_long):
    drift = v.detect_drift(v.evaluate_by(real_long))
    assert sorted(drift["league"]) == ["D1", "E0"]
    assert (drift["latest_season"] == "2324").all()
    assert drift["z"].notna().all() and (drift["baseline_se"] > 0).all()


# --- seasons, freshness -----------------------------------------------------------------------------


def test_season_completeness():
    assert v.season_is_complete("E0", "2223", has_later_season=True, n_scheduled=5, as_of=dt.date(2023, 1, 1))
    assert not v.season_is_complete("E0", "2324", has_later_season=False, n_scheduled=0, as_of=dt.date(2024, 5, 20))
    assert v.season_is_complete("E0", "2324", has_later_season=False, n_scheduled=0, as_of=dt.date(2024, 9, 2))
    assert not v.season_is_complete("E0", "2324", has_later_season=False, n_scheduled=3, as_of=dt.date(2024, 9, 2))


def test_data_freshness():
    last = pd.DataFrame({"league": ["E0", "D1", "I1"], "last_match_date": [pd.Timestamp("2024-05-19"), pd.Timestamp("2024-04-20"), pd.NaT]})
    frame = v.data_freshness(last, dt.date(2024, 5, 25), stale_after_days=21)
    assert frame["days_behind"].tolist()[:2] == [6, 35]
    assert frame["stale"].tolist() == [False, True, True]


# --- registry ---------------------------------------------------------------------------------------


def _version(league="E0", rps=None, *, data="d1", health="healthy", complete=("2223",), gap=0.005):
    rps = rps if rps is not None else {"2223": 0.2050}
    seasons = {s: {"n": 380, "rps": value, "rps_diff_market_pre": gap, "complete": s in complete} for s, value in rps.items()}
    evaluation = ([s for s in seasons if seasons[s]["complete"]] or list(seasons) or [None])[-1]
    parameters = {"previous_seasons": 2, "dixon_coles": {"xi": 0.0018}}
    return v.ModelVersion(
        league=league,
        model_version=v.model_version_id(league, "wf=1", parameters, {"canonical_matches": {f"{league}|2223": data}}),
        code_version="wf=1", parameters=parameters, input_data_versions={"canonical_matches": {f"{league}|2223": data}},
        training_start=dt.date(2020, 9, 12), training_end=dt.date(2023, 5, 28), evaluation_season=evaluation,
        metrics={"set_id": "A", "evaluation_season": evaluation, "seasons": seasons, "overall": {"n": 380},
                 "health": {"status": health, "reasons": ["log loss worse than uniform"] if health == "critical" else []}},
        created_at=NOW,
    )


def test_model_version_id_tracks_code_settings_and_data():
    base = v.model_version_id("E0", "1", {"xi": 0.0018}, {"E0|2324": "a"})
    assert base == v.model_version_id("E0", "1", {"xi": 0.0018}, {"E0|2324": "a"})
    assert len({base, v.model_version_id("E0", "2", {"xi": 0.0018}, {"E0|2324": "a"}),
                v.model_version_id("E0", "1", {"xi": 0.0065}, {"E0|2324": "a"}),
                v.model_version_id("E0", "1", {"xi": 0.0018}, {"E0|2324": "b"}),
                v.model_version_id("D1", "1", {"xi": 0.0018}, {"E0|2324": "a"})}) == 5


def test_first_version_becomes_active():
    rows, decisions = v.register_candidates(None, [_version()], recorded_at=NOW, run_id="r1")
    assert rows[["event", "status"]].values.tolist() == [["registered", "active"]]
    assert decisions["E0"].reason == "first version of the league"
    assert rows.columns.tolist() == v.REGISTRY_COLUMNS


def test_better_candidate_is_promoted_and_the_old_one_archived():
    registry, _ = v.register_candidates(None, [_version(rps={"2223": 0.2050})], recorded_at=NOW, run_id="r1")
    better = _version(rps={"2223": 0.2040}, data="d2")
    rows, decisions = v.register_candidates(registry, [better], recorded_at=NOW + dt.timedelta(days=7), run_id="r2")
    assert rows[["model_version", "event", "status"]].values.tolist() == [
        [better.model_version, "registered", "active"],
        [registry["model_version"].iloc[0], "status_change", "archived"],
    ]
    assert decisions["E0"].compared_on == "2223"
    assert "superseded by" in rows["reason"].iloc[1]
    assert rows["metrics"].iloc[1] is None or pd.isna(rows["metrics"].iloc[1])  # status rows carry no metrics
    full = pd.concat([registry, rows], ignore_index=True)
    assert v.active_versions(full)["E0"].model_version == better.model_version


def test_worse_candidate_beyond_tolerance_is_archived_with_the_reason():
    registry, _ = v.register_candidates(None, [_version(rps={"2223": 0.2050})], recorded_at=NOW, run_id="r1")
    worse = _version(rps={"2223": 0.2060}, data="d2")
    rows, decisions = v.register_candidates(registry, [worse], recorded_at=NOW, run_id="r2")
    assert rows[["event", "status"]].values.tolist() == [["registered", "archived"]]
    assert "worse than active" in decisions["E0"].reason and "0.20600 vs 0.20500" in decisions["E0"].reason
    assert v.active_versions(pd.concat([registry, rows]))["E0"].model_version == registry["model_version"].iloc[0]


def test_slightly_worse_within_tolerance_is_promoted():
    registry, _ = v.register_candidates(None, [_version(rps={"2223": 0.2050})], recorded_at=NOW, run_id="r1")
    rows, decisions = v.register_candidates(registry, [_version(rps={"2223": 0.2054}, data="d2")], recorded_at=NOW, run_id="r2")
    assert decisions["E0"].status == "active"
    assert rows["status"].tolist() == ["active", "archived"]


def test_gate_compares_the_latest_common_complete_season():
    active = _version(rps={"2122": 0.2000, "2223": 0.2050, "2324": 0.2100}, complete=("2122", "2223"))
    candidate = _version(rps={"2122": 0.2100, "2223": 0.2049, "2324": 0.2300}, complete=("2122", "2223", "2324"), data="d2")
    decision = v.promotion_decision(candidate, active)
    assert decision.status == "active" and decision.compared_on == "2223"


def test_gate_without_a_common_season_uses_the_market_gap():
    active = _version(rps={"2122": 0.2000}, complete=("2122",), gap=0.004)
    worse = _version(rps={"2223": 0.2100}, complete=("2223",), gap=0.009, data="d2")
    decision = v.promotion_decision(worse, active)
    assert decision.status == "archived" and "rps_diff_market_pre" in decision.reason


def test_critical_or_empty_candidates_fail():
    assert v.promotion_decision(_version(health="critical"), None).status == "failed"
    decision = v.promotion_decision(_version(rps={}), None)
    assert decision.status == "failed" and "no evaluable" in decision.reason


def test_the_same_version_registers_once():
    registry, _ = v.register_candidates(None, [_version()], recorded_at=NOW, run_id="r1")
    rows, decisions = v.register_candidates(registry, [_version()], recorded_at=NOW, run_id="r2")
    assert rows.empty and decisions == {"E0": None}


def test_registry_history_is_never_rewritten():
    history = pd.DataFrame(columns=v.REGISTRY_COLUMNS)
    snapshots = []
    for week, (rps, data) in enumerate([(0.2050, "d1"), (0.2070, "d2"), (0.2040, "d3"), (0.2045, "d4")]):
        rows, _ = v.register_candidates(history, [_version(rps={"2223": rps}, data=data), _version("D1", data=data)],
                                        recorded_at=NOW + dt.timedelta(days=7 * week), run_id=f"r{week}")
        updated = pd.concat([history, rows], ignore_index=True) if len(history) else rows
        v.assert_append_only(history, updated)
        snapshots.append(updated.copy())
        history = updated
    for earlier in snapshots[:-1]:
        pd.testing.assert_frame_equal(history.iloc[: len(earlier)].reset_index(drop=True), earlier.reset_index(drop=True), check_dtype=False)
    assert history["event_id"].is_unique and history["event_id"].is_monotonic_increasing
    registered = history[history["event"] == "registered"]
    assert not registered.duplicated(["league", "model_version"]).any()
    state = v.registry_state(history)
    assert (state.groupby("league")["status"].apply(lambda s: (s == "active").sum()) == 1).all()
    # a tampered copy is caught
    tampered = history.copy()
    tampered.loc[0, "metrics"] = "{}"
    with pytest.raises(AssertionError, match="rewritten"):
        v.assert_append_only(history, tampered)
    with pytest.raises(AssertionError, match="gone"):
        v.assert_append_only(history, history.iloc[1:])


def test_build_candidate_from_real_evaluation(real_long):
    by = v.evaluate_by(real_long)
    candidate = v.build_candidate(
        "E0", by, code_version="wf=1", parameters={"previous_seasons": 2}, input_data_versions={"E0|2324": "x"},
        as_of=dt.date(2024, 9, 1), created_at=NOW,
    )
    assert candidate.evaluation_season == "2324"  # the window of 2023/24 closed on 31 August 2024
    assert list(candidate.metrics["seasons"]) == ["2021", "2122", "2223", "2324"]
    assert 0.19 < candidate.season_metric("2324", "rps") < 0.23
    early = v.build_candidate("E0", by, code_version="wf=1", parameters={}, input_data_versions={}, as_of=dt.date(2024, 6, 1), created_at=NOW)
    assert early.evaluation_season == "2223"
    runs = v.training_run_rows([candidate], run_id="r1", recorded_at=NOW, objective=v.objective_text({"dixon_coles": {"xi": 0.0018}}))
    assert runs.columns.tolist() == v.TRAINING_RUN_COLUMNS and runs["n_matches"].iloc[0] == 4 * 380
