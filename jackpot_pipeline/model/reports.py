"""Reports of the validation metrics for people: reliability bins (table, JSON, PNG) and markdown."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from jackpot_pipeline.model.evaluation import MARKET_SETS, PROB_COLUMNS, ordered_sets, score_predictions
from jackpot_pipeline.json_values import to_jsonable
from jackpot_pipeline.model.metrics import OUTCOME_LABELS, reliability_curve
from jackpot_pipeline.reporting import markdown_table

RELIABILITY_COLUMNS: Final = [
    "set_id", "outcome", "bin", "bin_lower", "bin_upper", "count", "mean_predicted", "observed_frequency",
]


def reliability_table(
    predictions: pd.DataFrame,
    *,
    set_ids: Sequence[str] | None = None,
    n_bins: int = 10,
    min_season_match_index: int = 0,
) -> pd.DataFrame:
    """Reliability bins per set and outcome ('H', 'D', 'A'): :data:`RELIABILITY_COLUMNS`.

    Same binning as :func:`jackpot_pipeline.model.metrics.reliability_curve` (equal-width bins of
    [0, 1], one-vs-rest per outcome); empty bins have count 0 and NaN mean / frequency."""
    scored = score_predictions(predictions, min_season_match_index=min_season_match_index)
    scored = scored[scored["has_probs"].to_numpy()]
    wanted = ordered_sets(scored["set_id"].unique()) if set_ids is None else list(set_ids)
    # one frame built from plain arrays: a frame per set and outcome cost more than the binning
    set_column, outcomes = scored["set_id"].to_numpy(dtype=object, na_value=None), scored["outcome"].to_numpy()
    probs_all, frames = scored[list(PROB_COLUMNS)].to_numpy(dtype=np.float64), {c: [] for c in RELIABILITY_COLUMNS}
    for set_id in wanted:
        mine = set_column == set_id
        for code, label in enumerate(OUTCOME_LABELS if mine.any() else ()):
            curve = reliability_curve(probs_all[mine], outcomes[mine], n_bins=n_bins, outcome=code)
            for column, values in zip(RELIABILITY_COLUMNS, ([set_id] * n_bins, [label] * n_bins, np.arange(
                    n_bins, dtype=np.int64), curve.bin_edges[:-1], curve.bin_edges[1:], curve.counts,
                    curve.mean_predicted, curve.observed_frequency), strict=True):
                frames[column].append(np.asarray(values, dtype=object if column in ("set_id", "outcome") else None))
    if not frames["set_id"]:
        return pd.DataFrame({column: pd.Series(dtype="float64") for column in RELIABILITY_COLUMNS}).astype(
            {"set_id": "string", "outcome": "string", "bin": "int64", "count": "int64"}
        )
    table = pd.DataFrame({column: np.concatenate(parts) for column, parts in frames.items()})
    return table.astype({"set_id": "string", "outcome": "string"})


def reliability_json(table: pd.DataFrame, set_id: str) -> str:
    """One set's bins as compact JSON: {"H": {"count": [...], "mean_predicted": [...], ...}, ...}."""
    return _reliability_payload(table[table["set_id"] == set_id])


def reliability_jsons(table: pd.DataFrame, set_ids: Sequence[str]) -> list[str]:
    """:func:`reliability_json` of each of ``set_ids``, the table split once."""
    by_set = dict(iter(table.groupby("set_id", sort=False)))
    return [_reliability_payload(by_set.get(set_id, table.iloc[:0])) for set_id in set_ids]


def _reliability_payload(mine: pd.DataFrame) -> str:
    outcomes = mine["outcome"].to_numpy(dtype=object)
    bins = mine["bin"].to_numpy()
    lower, upper = mine["bin_lower"].to_numpy(dtype=float), mine["bin_upper"].to_numpy(dtype=float)
    counts = mine["count"].to_numpy()
    predicted, observed = mine["mean_predicted"].to_numpy(dtype=float), mine["observed_frequency"].to_numpy(dtype=float)
    payload: dict[str, Any] = {}
    for label in OUTCOME_LABELS:
        rows = np.flatnonzero(outcomes == label)
        if not len(rows):
            continue
        rows = rows[np.argsort(bins[rows], kind="stable")]
        payload[label] = {
            "bin_edges": [*lower[rows].tolist(), float(upper[rows[-1]])],
            "count": counts[rows].astype(int).tolist(),
            "mean_predicted": to_jsonable(predicted[rows].tolist()),
            "observed_frequency": to_jsonable(observed[rows].tolist()),
        }
    return json.dumps(payload, sort_keys=True)


# Fixed colours keep the figures comparable from one report to the next.
_SET_COLOURS: Final = {
    "A": "#1f77b4", "B": "#ff7f0e", "C": "#2ca02c", "D": "#d62728", "E": "#9467bd", "F": "#8c564b",
    "G": "#e377c2", "market_pre": "#7f7f7f", "market_close": "#111111",
}
DEFAULT_PLOT_SETS: Final = ("A", "B", "C", "G", "market_pre", "market_close")


def reliability_png(
    tables: pd.DataFrame | Mapping[str, pd.DataFrame],
    title: str,
    *,
    set_ids: Sequence[str] | None = None,
    min_count: int = 20,
) -> bytes:
    """Reliability diagram (home / draw / away panels, one line per set) as PNG bytes.

    ``tables``: a :func:`reliability_table` frame, or {label: table of one set}. Deterministic: Agg
    canvas, fixed size and dpi, no software/date metadata, so equal inputs give identical bytes. Bins
    with fewer than ``min_count`` predictions are not drawn (a single match is 0 % or 100 %)."""
    from jackpot_pipeline.model.reliability_plot import draw_reliability

    if isinstance(tables, Mapping):
        frame = pd.concat(
            [table.assign(set_id=label) for label, table in tables.items()], ignore_index=True
        ) if tables else pd.DataFrame(columns=RELIABILITY_COLUMNS)
    else:
        frame = tables
    present = ordered_sets(frame["set_id"].dropna().unique()) if len(frame) else []
    if set_ids is not None:
        sets = [s for s in set_ids if s in present]
    else:
        sets = [s for s in DEFAULT_PLOT_SETS if s in present] or present
    # masks and columns taken once as arrays: filtering the frame per set and outcome dominated the plot
    counts, bins = frame["count"].to_numpy(), frame["bin"].to_numpy()
    plotted = (frame["count"] >= min_count).to_numpy(dtype=bool, na_value=False)
    predicted, observed = frame["mean_predicted"].to_numpy(dtype=float), frame["observed_frequency"].to_numpy(dtype=float)
    of_set = {s: (frame["set_id"] == s).to_numpy(dtype=bool, na_value=False) for s in sets}
    panels = []
    for label, name in zip(OUTCOME_LABELS, ("home win", "draw", "away win"), strict=True):
        of_outcome, lines = (frame["outcome"] == label).to_numpy(dtype=bool, na_value=False), {}
        for set_id in sets:
            rows = np.flatnonzero(of_set[set_id] & of_outcome & plotted)
            rows = rows[np.argsort(bins[rows], kind="quicksort")]  # as sort_values("bin") orders them
            lines[set_id] = list(zip(predicted[rows], observed[rows], strict=True))
        total = int(counts[of_outcome & of_set[sets[0]]].sum()) if sets else 0
        panels.append((name, total, lines))
    return draw_reliability(panels, title, _SET_COLOURS, sets)


def png_markdown(png: bytes, alt: str) -> str:
    """Markdown image with the PNG inlined as a base64 data URI (Dagster has no image metadata type)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def format_metric(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.{digits}f}"
    return str(value)


def metrics_markdown(metrics: pd.DataFrame, *, extra_columns: Sequence[str] = ()) -> str:
    """Markdown table of :func:`evaluate_sets` rows: scores, then the paired difference to each market
    (mean ± SE; positive = worse than the market)."""
    header = [*extra_columns, "set", "n", "RPS", "Brier", "log loss", "ECE", "accuracy",
              "ΔRPS vs pre (±SE)", "ΔRPS vs close (±SE)", "Δlog loss vs pre (±SE)", "Δlog loss vs close (±SE)"]
    rows = []
    for row in metrics.to_dict("records"):
        cells = [format_metric(row.get(column)) for column in extra_columns]
        cells += [str(row["set_id"]), str(row["n"]), *(format_metric(row[name]) for name in ("rps", "brier", "log_loss", "ece")),
                  format_metric(row["accuracy"], 3)]
        for score in ("rps", "log_loss"):
            for market in MARKET_SETS:
                diff, se = row[f"{score}_diff_{market}"], row[f"{score}_diff_{market}_se"]
                cells.append("–" if pd.isna(diff) else f"{diff:+.4f} ± {format_metric(se)} (n={row[f'n_paired_{market}']})")
        rows.append(cells)
    return markdown_table(header, rows, "l" * (len(extra_columns) + 1) + "r" * (len(header) - len(extra_columns) - 1))
