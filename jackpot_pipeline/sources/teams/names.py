"""Team-name text: the canonical cell, matching keys, their similarity and league families.

:func:`clean_source_name` is how a CSV cell becomes a canonical name; :func:`normalise_team_name`
is the matching key of any spelling, and :func:`team_name_similarity` compares two keys.
:func:`league_family` groups the divisions of one country and :func:`unify_source_name` merges the
publisher's own two spellings of one club.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence

# Longest team name accepted anywhere: a source cell (longer is quarantined) or a card's team.
MAX_TEAM_NAME_LENGTH = 100

# Letters NFKD does not decompose into ASCII base + combining mark (ø is not "o + stroke" in
# Unicode, ß casefolds to "ss" by itself). Applied after casefold, so only lower-case forms.
_TRANSLITERATE = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ð": "d", "ł": "l", "ı": "i", "þ": "th", "ħ": "h"}
)
# Apostrophes vanish (Nott'm -> nottm, M'gladbach -> mgladbach, Newell's -> newells) instead of
# splitting the word, which is how people type these names without the apostrophe.
_APOSTROPHES = re.compile("['\u2019\u2018\u02bc\u00b4`]")
# Everything that is not a letter or digit separates words: '.', '-', '/', '(', ',', '_' ...
_SEPARATORS = re.compile(r"[\W_]+")

# Whole-token synonyms: spellings of the same word, never of different clubs.
_SYNONYMS: dict[str, str] = {
    "utd": "united",
    "saint": "st",
    "sankt": "st",
    "sint": "st",
}

# Legal-form / filler tokens dropped from the matching key, as whole tokens only.
# Deliberately NOT here, because dropping them would merge or confuse different clubs:
#   inter (Inter vs Milan), real (Real Madrid vs Ath Madrid), atletico/athletic, sporting,
#   racing, olympique, stade, united/city/town/county/rovers (Man United vs Man City),
#   ca (CA Bastia vs Bastia in F2), sg (Paris SG would become "paris" = Paris FC),
#   fsv (Frankfurt FSV would become "frankfurt"), vvv (VVV Venlo), b/ii (reserve sides),
#   digits other than the "1." that opens German club names (Schalke 04, Munich 1860, Sarpsborg 08).
_AFFIXES: frozenset[str] = frozenset(
    {
        # generic / English
        "fc", "afc", "cf", "sc", "club", "football", "the",
        # Italian
        "ac", "as", "ss", "ssc", "us", "ssd", "asd", "calcio",
        # Spanish / Portuguese
        "cd", "ud", "rc", "rcd", "sd", "gd", "sl", "cs", "de", "del", "futbol", "futebol",
        "balompie",
        # German (1. FC Köln -> "1 fc koln" -> "koln")
        "1", "sv", "vfb", "vfl", "tsg", "tsv", "bsc", "ssv", "spvgg", "fussball",
        # Scandinavian
        "fk", "sk", "bk", "if", "il", "ff",
        # Dutch / Belgian / French
        "sbv", "kv", "krc", "kaa", "kas", "rsc", "kvc", "ksv", "rfc", "kfc", "sco", "ogc",
    }
)

# Tokens marking a reserve/youth/women's side. A fuzzy match that differs in one of these is
# penalised so "Real Madrid" never fuzzy-matches "Real Madrid B" (the Castilla side in SP2).
_RESERVE_MARKERS: frozenset[str] = frozenset(
    {"b", "ii", "u19", "u21", "u23", "reserves", "youth", "jong", "women", "w", "femenino"}
)
_RESERVE_PENALTY = 0.8


def clean_source_name(name: str) -> str:
    """A CSV cell as we store it as a canonical name: trimmed, inner whitespace collapsed.

    Case and punctuation are kept: the canonical name is football-data.co.uk's own spelling.
    """
    if not isinstance(name, str):
        raise TypeError(f"team name must be a str, got {type(name).__name__}: {name!r}")
    # str.split() with no argument splits on every Unicode space (incl. U+00A0); a BOM is not a
    # space but leaks in from the first cell of BOM-prefixed files read without utf-8-sig.
    return " ".join(name.replace("\ufeff", " ").split())


# Categories no name holds: controls, format characters (zero-width spaces...), surrogates (bytes
# that did not decode), private use and unassigned code points.
_UNREADABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def unreadable_character(text: str) -> str | None:
    """``U+XXXX`` of the first character a team (or card) name cannot hold, or None.

    U+FFFD is what a decoder leaves for a byte it could not read; the others cannot be typed or seen
    and break the places names go (PostgreSQL refuses NUL, UTF-8 files refuse lone surrogates).
    """
    if text.isprintable() and "\ufffd" not in text:  # the common case, without a lookup per character
        return None
    for character in text:
        if character == "\ufffd" or unicodedata.category(character) in _UNREADABLE_CATEGORIES:
            return f"U+{ord(character):04X}"
    return None


def _fold_characters(text: str) -> str:
    """Casefold, transliterate and strip accents until stable (NFKD can expose new upper case)."""
    for _ in range(4):
        folded = text.casefold().translate(_TRANSLITERATE)
        folded = unicodedata.normalize("NFKD", folded)
        folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
        if folded == text:
            break
        text = folded
    return text


def _join_initials(tokens: list[str]) -> list[str]:
    """Join runs of single letters ("a f c" from "A.F.C.") into one token ("afc")."""
    joined: list[str] = []
    run: list[str] = []
    for token in [*tokens, ""]:
        if len(token) == 1 and token.isalpha():
            run.append(token)
            continue
        if run:
            joined.append("".join(run))
            run = []
        if token:
            joined.append(token)
    return joined


def _reduce_tokens(tokens: list[str]) -> list[str]:
    tokens = [_SYNONYMS.get(token, token) for token in _join_initials(tokens)]
    kept = [token for token in tokens if token not in _AFFIXES]
    # A name made only of affixes ("FC", "AS") keeps them rather than becoming an empty key.
    return kept or tokens


def normalise_team_name(name: str) -> str:
    """Matching key for a team name: accent-free, casefolded, punctuation- and affix-free.

    ``Atlético de Madrid`` -> ``atletico madrid``; ``1. FC Köln`` -> ``koln``;
    ``Brighton & Hove Albion`` -> ``brighton and hove albion``; ``Man Utd`` -> ``man united``;
    ``Saint-Étienne`` -> ``st etienne``. Idempotent. Not a display name.
    """
    text = _fold_characters(clean_source_name(name))
    text = text.replace("&", " and ")
    text = _APOSTROPHES.sub("", text)
    tokens = _SEPARATORS.sub(" ", text).split()
    # Joining initials can expose a new affix ("a c" -> "ac") and dropping an affix can bring
    # two initials together, so reduce to a fixed point; each pass only shrinks the list.
    while True:
        reduced = _reduce_tokens(tokens)
        if reduced == tokens:
            return " ".join(tokens)
        tokens = reduced


def compact_key(key: str) -> str:
    """Key without spaces: ``Ham-Kam``/``HamKam``, ``FeralpiSalo``/``Feralpi Salò`` meet here."""
    return key.replace(" ", "")


# Two words "correspond" from this difflib ratio on: one or two typos in a word of 5+ letters
# ("chelsae" ~ "chelsea" 0.86, "lazoi" ~ "lazio" 0.8), but not "real" ~ "atl" (0.57).
_TOKEN_MATCH = 0.75


def _token_coverage(a_tokens: Sequence[str], b_tokens: Sequence[str]) -> float:
    """Share of characters (both sides) in words that have a corresponding word on the other side."""
    matcher = difflib.SequenceMatcher(autojunk=False)
    covered = 0
    for mine, theirs in ((a_tokens, b_tokens), (b_tokens, a_tokens)):
        for token in mine:
            matcher.set_seq2(token)
            for other in theirs:
                matcher.set_seq1(other)
                if other == token or matcher.ratio() >= _TOKEN_MATCH:
                    covered += len(token)
                    break
    total = sum(map(len, a_tokens)) + sum(map(len, b_tokens))
    return covered / total if total else 0.0


def team_name_similarity(a_key: str, b_key: str) -> float:
    """Similarity in [0, 1] of two *normalised* keys (see :func:`normalise_team_name`).

    The better of difflib's ratio on the keys and on their sorted words ("madrid real" ~
    "real madrid"), scaled down by the share of words without a counterpart on the other side:
    character ratios alone rate "real madrid" ~ "atl madrid" at 0.86 although the distinguishing
    word differs entirely. Not a token-*set* ratio on purpose: that rates "inter milan" ~ "milan"
    1.0. Keys differing in a reserve-side marker ("b", "ii", "u23") are penalised further.
    """
    if not a_key or not b_key:
        return 0.0
    if a_key == b_key:
        return 1.0
    score = difflib.SequenceMatcher(None, a_key, b_key, autojunk=False).ratio()
    a_tokens, b_tokens = a_key.split(), b_key.split()
    a_sorted, b_sorted = " ".join(sorted(a_tokens)), " ".join(sorted(b_tokens))
    if (a_sorted, b_sorted) != (a_key, b_key):
        score = max(score, difflib.SequenceMatcher(None, a_sorted, b_sorted, autojunk=False).ratio())
    score *= 0.5 + 0.5 * _token_coverage(a_tokens, b_tokens)
    if (_RESERVE_MARKERS & set(a_tokens)) != (_RESERVE_MARKERS & set(b_tokens)):
        score *= _RESERVE_PENALTY
    return score


# The National League (EC) is the fifth tier of the English pyramid (E0..E3).
_FAMILY_OVERRIDES: dict[str, str] = {"EC": "E"}


def league_family(league: str) -> str:
    """Country pyramid of a football-data league code: ``E0``..``E3`` -> ``E``, ``SP2`` -> ``SP``.

    football-data.co.uk spells a club the same way in every division of its country, so curated
    aliases are shared within a family: a club promoted into a division it never played in keeps
    its aliases there. Extra-league codes (``ARG``, ``NOR``) are their own family.
    """
    code = league.strip().upper()
    return _FAMILY_OVERRIDES.get(code) or re.sub(r"\d+$", "", code) or code


# The same club written two ways in football-data.co.uk's own cells (found in the 2012-2025
# files); the value is the spelling the publisher uses in its latest seasons. Applying
# unify_source_name() at ingestion gives such a club one history instead of two teams.
SOURCE_NAME_VARIANTS: dict[tuple[str, str], str] = {
    ("ARG", "Colon Santa FE"): "Colon Santa Fe",  # "FE" 2012/13-2022, "Fe" 2022-2023
    ("NOR", "Ham-Kam"): "HamKam",  # "Ham-Kam" 2022-2023, "HamKam" 2023-2025
}


def unify_source_name(league: str, name: str) -> str:
    """:func:`clean_source_name`, then the publisher's latest spelling if ``name`` is a variant."""
    cleaned = clean_source_name(name)
    return SOURCE_NAME_VARIANTS.get((league.strip(), cleaned), cleaned)
