"""Parse football-data.co.uk CSV bytes into raw rows, canonical matches and quarantined rows.

Every data line of a file ends up in exactly one place: a canonical match, a quarantined row (with a
reason code, the field and the offending value, and a message naming file, line and field) or a
blank/padding line. Only a file that cannot be read as a football-data CSV at all raises
:class:`SourceFormatError` naming the file and the problem: empty, an HTML page, binary (NUL
bytes), undecodable UTF-16, cut off mid-line, or without a usable header. Anything wrong inside a
line concerns that line alone.

What a bad cell does depends on the cell:

* the cells a match is made of (division, season, teams, date, full-time goals and result)
  quarantine the row: non-numbers, negative or absurd goal counts, impossible dates, blank team
  names or names holding control/undecodable characters, result letters other than H/D/A;
* every other cell (half-time, shots, kick-off time, bookmaker odds) is left empty and named in the
  row's ``issues`` (``B365CH='#' is not a number``): the match result is good and is kept, and a
  price that is not a plausible 1X2 market is never used.

Files lacking optional columns (no odds before 2000, no shots in lower tiers, no half-time in the
1990s) ingest with what they have; :func:`source_coverage` names what a header lacks.

Real quirks handled here (see ``shared/football-data/MANIFEST.md``): UTF-8 BOM, CRLF, LF and CR,
``dd/mm/yy`` and ``dd/mm/yyyy`` (two-digit years read as one of the season's own years, so
``14/08/93`` in 1993/94 is 1993), a cp1252 no-break space in a UTF-8-invalid file (decoded line by
line), comma-only padding lines, empty header names, rows narrower or wider than the header (the
1990s and early-2000s files: a header padded with empty names, rows of 7 fields; rows carrying
cells for columns the header never named), ``HT``/``AT`` for the team columns in early Greek files,
non-numeric odds cells (``#``), zero odds, rows with empty half-time cells, the ``new/``
multi-season format with its varying ``Season`` and ``League`` spellings.

The package's modules, in the order a file goes through them:

* :mod:`~jackpot_pipeline.sources.football_data.reading` -- bytes to a header and rows of fields;
* :mod:`~jackpot_pipeline.sources.football_data.partitions` -- rows to league x season partitions;
* :mod:`~jackpot_pipeline.sources.football_data.columns` -- where each cell sits in the header;
* :mod:`~jackpot_pipeline.sources.football_data.cells` -- one cell to a date, time, price or count;
* :mod:`~jackpot_pipeline.sources.football_data.odds` -- a row's 1X2 prices;
* :mod:`~jackpot_pipeline.sources.football_data.canonical` -- a partition to matches and quarantine.
"""

from __future__ import annotations

from jackpot_pipeline.sources.football_data.canonical import (
    CANONICAL_COLUMNS,
    MAX_TEAM_NAME_LENGTH,
    PARSER_VERSION,
    QUARANTINE_COLUMNS,
    QUARANTINE_REASONS,
    RAW_COLUMNS,
    CanonicalResult,
    canonicalise,
    make_match_id,
    team_name_problem,
)
from jackpot_pipeline.sources.football_data.columns import source_coverage
from jackpot_pipeline.sources.football_data.odds import MIN_ODDS, OVERROUND_BAND, odds_problem
from jackpot_pipeline.sources.football_data.partitions import PartitionRows, partition_rows
from jackpot_pipeline.sources.football_data.reading import (
    DecodedSource,
    ParsedSource,
    SourceFormatError,
    SourceRow,
    decode_source,
    parse_source,
)

__all__ = [
    "CANONICAL_COLUMNS",
    "MAX_TEAM_NAME_LENGTH",
    "MIN_ODDS",
    "OVERROUND_BAND",
    "PARSER_VERSION",
    "QUARANTINE_COLUMNS",
    "QUARANTINE_REASONS",
    "RAW_COLUMNS",
    "CanonicalResult",
    "DecodedSource",
    "ParsedSource",
    "PartitionRows",
    "SourceFormatError",
    "SourceRow",
    "canonicalise",
    "decode_source",
    "make_match_id",
    "odds_problem",
    "parse_source",
    "partition_rows",
    "source_coverage",
    "team_name_problem",
]
