"""Jackpot cards: file formats, validation and team resolution.

A *jackpot card* is the list of 1-20 fixtures an operator (SportPesa, Betika, ...) sells as one
jackpot; players pick 1 (home), X (draw) or 2 (away) for every fixture. Cards live in
``data/jackpots/`` as one JSON or CSV file per card (the suffix ``.json``/``.csv`` decides the
format; files named ``<stem>.results.csv`` are results files, see
:mod:`jackpot_pipeline.jackpots.scoring`, never cards). Files are UTF-8 (a BOM is accepted).

JSON card
---------
One object::

    {
      "jackpot_id": "sportpesa_mega_2024_05_18",     required, 1-64 characters of [A-Za-z0-9_-]
      "name": "Mega Jackpot 17",                      required, non-empty string
      "operator": "SportPesa",                        optional, string or null
      "owner": "analyst@example.com",                 optional, string or null
      "fixtures": [                                   required, 1-20 objects, in card order
        {
          "home": "Manchester United",                required, 2-100 characters
          "away": "Arsenal",                          required, 2-100 characters
          "league": "E0",                             optional, football-data league code or null
          "kickoff": "2024-05-19T16:00:00+01:00",     required, see "Kick-off" below
          "odds": {"home": 2.10, "draw": 3.40, "away": 3.25}
                                                      optional (or null): all three decimal odds
        }
      ]
    }

Fixture positions are 1-based in list order. Unknown keys are errors (a typo such as ``"odd"``
would otherwise drop the odds silently), and so is a key given twice in one object.

CSV card
--------
One row per fixture, comma-separated, header row first. Columns (any order, names
case-insensitive)::

    jackpot_id,name,operator,position,home_team,away_team,league,kickoff,odds_home,odds_draw,odds_away

``position`` and ``owner`` are optional columns, every other column is required (its cells may be
blank where the value is optional: ``operator``, ``owner``, ``league``, the three odds).
``jackpot_id``, ``name``, ``operator`` and ``owner`` describe the card and are repeated on every row;
they must agree on every row. With a ``position`` column the positions must be exactly 1..n (rows
may come in any order); without it, row order is card order. Rows whose cells are all blank are
skipped (spreadsheets leave them). Other columns are errors.

Values (both formats)
---------------------
* Team names: trimmed, inner whitespace collapsed, 2-100 characters, no control, invisible
  (zero-width) or undecodable characters (the same holds for ``name``, ``operator`` and
  ``owner``); home and away must differ. Two fixtures with the same home and away names (compared
  ignoring case and whitespace) are a duplicate.
* League: a football-data.co.uk code (``E0``, ``SP1``, ``ARG`` ...; case-insensitive), or
  blank/null when unknown (it is then inferred from the teams by :func:`resolve_card`).
* Kick-off: a date *and* a time, either ISO 8601 (``2024-05-19T16:00``, ``2024-05-19 16:00:00``,
  with an optional ``Z`` or ``+01:00`` offset within ±14:00) or day-first ``19/05/2024 16:00``,
  in ASCII digits, in the years 1900-2100. Without an offset it is the operator's local time, kept
  as written.
* Odds: decimal odds in [1.01, 1000]; all three (home, draw, away) or none.

Every problem raises :class:`CardError` naming the file, the fixture (1-based position) and the
field in the file's own vocabulary (``odds.draw`` in JSON, ``odds_draw`` in CSV).
:func:`load_cards` loads a folder card by card, so one bad card never stops the others.

The package's modules, one job each:

* :mod:`~jackpot_pipeline.jackpots.cards.model` -- the card, its errors, id and kick-off rules;
* :mod:`~jackpot_pipeline.jackpots.cards.fields` -- one value of either format, checked;
* :mod:`~jackpot_pipeline.jackpots.cards.json_format`, :mod:`~jackpot_pipeline.jackpots.cards.csv_format`
  -- the two formats;
* :mod:`~jackpot_pipeline.jackpots.cards.loading` -- card files and folders;
* :mod:`~jackpot_pipeline.jackpots.cards.resolution` -- team resolution of a card's fixtures.
"""

from __future__ import annotations

from jackpot_pipeline.jackpots.cards.csv_format import CARD_CSV_COLUMNS, CARD_CSV_OPTIONAL_COLUMNS
from jackpot_pipeline.jackpots.cards.loading import load_card, load_cards, parse_card
from jackpot_pipeline.jackpots.cards.model import (
    JACKPOT_ID_PATTERN,
    MAX_FIXTURES,
    MAX_ODDS,
    MIN_ODDS,
    RESULTS_SUFFIX,
    CardError,
    CardFixture,
    JackpotCard,
    card_sha256,
    check_jackpot_id,
    fixture_key,
    parse_kickoff,
)
from jackpot_pipeline.jackpots.cards.resolution import (
    Fallback,
    FixtureWarning,
    ResolvedFixture,
    Severity,
    resolve_card,
)

__all__ = [
    "CARD_CSV_COLUMNS",
    "CARD_CSV_OPTIONAL_COLUMNS",
    "JACKPOT_ID_PATTERN",
    "MAX_FIXTURES",
    "MAX_ODDS",
    "MIN_ODDS",
    "RESULTS_SUFFIX",
    "CardError",
    "CardFixture",
    "Fallback",
    "FixtureWarning",
    "JackpotCard",
    "ResolvedFixture",
    "Severity",
    "card_sha256",
    "check_jackpot_id",
    "fixture_key",
    "load_card",
    "load_cards",
    "parse_card",
    "parse_kickoff",
    "resolve_card",
]
