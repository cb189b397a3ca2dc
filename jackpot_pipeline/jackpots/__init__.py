"""Pure core of the jackpot feature (no Dagster): cards, tickets, results scoring, exports.

* :mod:`~jackpot_pipeline.jackpots.cards` -- card formats (JSON/CSV), validation, team resolution;
* :mod:`~jackpot_pipeline.jackpots.tickets` -- exact ticket analysis and the double/triple optimiser;
* :mod:`~jackpot_pipeline.jackpots.scoring` -- results (results file, canonical matches) and scores;
* :mod:`~jackpot_pipeline.jackpots.exports` -- atomic, deterministic JSON/CSV exports.
"""

from jackpot_pipeline.jackpots.cards import (
    CardError,
    CardFixture,
    FixtureWarning,
    JackpotCard,
    ResolvedFixture,
    load_card,
    load_cards,
    resolve_card,
)
from jackpot_pipeline.jackpots.exports import write_exports
from jackpot_pipeline.jackpots.scoring import (
    FixtureResult,
    ResultsFileError,
    SetScore,
    collect_results,
    find_results,
    read_results_file,
    score_card,
)
from jackpot_pipeline.jackpots.tickets import (
    Ticket,
    TicketAnalysis,
    TicketBudget,
    analyse_ticket,
    correct_picks_distribution,
    most_likely_ticket,
    optimise_ticket,
)

__all__ = [
    "CardError",
    "CardFixture",
    "FixtureResult",
    "FixtureWarning",
    "JackpotCard",
    "ResolvedFixture",
    "ResultsFileError",
    "SetScore",
    "Ticket",
    "TicketAnalysis",
    "TicketBudget",
    "analyse_ticket",
    "collect_results",
    "correct_picks_distribution",
    "find_results",
    "load_card",
    "load_cards",
    "most_likely_ticket",
    "optimise_ticket",
    "read_results_file",
    "resolve_card",
    "score_card",
    "write_exports",
]
