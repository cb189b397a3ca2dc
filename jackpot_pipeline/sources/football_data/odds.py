"""1X2 odds of a row: unreadable price cells, and the preferred plausible pre-closing and closing triples."""

from __future__ import annotations

import math
from collections.abc import Sequence

from jackpot_pipeline.sources.football_data.cells import parse_float
from jackpot_pipeline.sources.football_data.columns import ColumnMap

# The lowest decimal price there is (a stake returned plus 1%): the one bound for source cells, card odds and
# the odds the model de-vigs; anything lower is a data error, not a real quote.
MIN_ODDS = 1.01
# Sum of implied probabilities. Observed on all shared files: 0.98 (closing average) to 1.13
# (Pinnacle in small leagues); outside this band a triple is a data error, not a market.
OVERROUND_BAND = (0.97, 1.30)


def odds_cell_issues(fields: Sequence[str], columns: ColumnMap, issues: list[str]) -> None:
    """Adds to ``issues`` every cell of a complete 1X2 column triple that is not a number."""
    width, clean = len(fields), columns.clean_odds_cells
    if columns.odds_texts and width >= columns.odds_reach:
        unseen = set(columns.odds_texts(fields)).difference(clean)
        if all(not raw.strip() or parse_float(raw.strip()) is not None for raw in unseen):
            clean.update(unseen)
            return
    for position, name in columns.all_odds_cells:
        text = fields[position].strip() if position < width else ""
        if text and parse_float(text) is None:
            issues.append(f"{name}={text!r} is not a number")


def choose_odds(fields, columns: ColumnMap, prefixes, prefix_out: str, issues: list[str]) -> dict[str, object]:
    """``{prefix_out}odds_home/draw/away/source`` of the first plausible triple among ``prefixes``
    (None each when there is none); rejected triples are named in ``issues``."""
    width = len(fields)
    for prefix in prefixes:
        texts = [fields[position].strip() if position < width else "" for position in columns.triples[prefix]]
        if not all(texts):
            continue
        prices = [parse_float(t) for t in texts]
        if any(p is None for p in prices):
            continue  # the unreadable cell is already listed in issues
        problem = odds_problem(prices)
        if problem:
            issues.append(f"{prefix} 1X2 odds {'/'.join(texts)} rejected: {problem}")
            continue
        return dict(zip(_ODDS_FIELDS[prefix_out], (*prices, prefix), strict=True))
    return dict.fromkeys(_ODDS_FIELDS[prefix_out])


_ODDS_FIELDS = {out: tuple(f"{out}odds_{k}" for k in ("home", "draw", "away", "source")) for out in ("", "closing_")}


def odds_problem(prices: Sequence[float]) -> str | None:
    """Why a 1X2 triple is not a plausible market, or None."""
    if any(not math.isfinite(p) for p in prices):
        return "not finite"
    low = min(prices)
    if low < MIN_ODDS:
        return f"{low:g} < {MIN_ODDS}"
    overround = sum(1.0 / p for p in prices)
    if not OVERROUND_BAND[0] <= overround <= OVERROUND_BAND[1]:
        return f"overround {overround:.3f} outside {OVERROUND_BAND[0]}-{OVERROUND_BAND[1]}"
    return None
