"""Loading cards: one file's bytes or path, or every card of a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from jackpot_pipeline.jackpots.cards.csv_format import parse_csv_card
from jackpot_pipeline.jackpots.cards.json_format import parse_json_card
from jackpot_pipeline.jackpots.cards.model import RESULTS_SUFFIX, CardError, JackpotCard, card_sha256


def parse_card(data: bytes, path: str | Path, *, card_format: Literal["json", "csv"] | None = None) -> JackpotCard:
    """A card from its bytes. ``path`` is recorded and named in errors; its suffix picks the
    format unless ``card_format`` is given."""
    source = Path(path)
    file = str(path)
    if card_format is None:
        suffix = source.suffix.lower()
        if source.name.lower().endswith(RESULTS_SUFFIX):
            raise CardError(file, f"a {RESULTS_SUFFIX} file holds results, not a card")
        if suffix not in (".json", ".csv"):
            raise CardError(file, f"unsupported card file type {suffix or '(none)'!r}; use .json or .csv")
        card_format = "json" if suffix == ".json" else "csv"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CardError(file, f"not UTF-8 text (byte {error.start}: {data[error.start:error.start + 1]!r})") from None
    if not text.strip():
        raise CardError(file, "empty file")
    parsed = parse_json_card(text, file) if card_format == "json" else parse_csv_card(text, file)
    return JackpotCard(source_path=source, sha256=card_sha256(data), **parsed)


def load_card(path: str | Path) -> JackpotCard:
    """Read and validate one card file; raises :class:`CardError` on any problem."""
    source = Path(path)
    try:
        data = source.read_bytes()
    except OSError as error:
        raise CardError(str(path), f"cannot read the file: {error.strerror or error}") from None
    return parse_card(data, path)


def _is_card_file(path: Path) -> bool:
    name = path.name.lower()
    return (
        path.is_file()
        and not name.startswith(".")  # editor swap files, our own atomic-write temp files
        and not name.endswith(RESULTS_SUFFIX)
        and path.suffix.lower() in (".json", ".csv")
    )


def load_cards(folder: str | Path) -> tuple[list[JackpotCard], list[CardError]]:
    """Every card in ``folder`` (``*.json``, ``*.csv``; not ``*.results.csv``, not hidden files),
    in file-name order, and one error per file that failed. Never raises for a bad card.

    Two files declaring the same ``jackpot_id`` would overwrite each other's exports, and neither
    can be preferred on principle, so both are rejected with an error naming the other file. A
    missing folder holds no cards.
    """
    root = Path(folder)
    if not root.is_dir():
        return [], []
    cards: list[JackpotCard] = []
    errors: list[CardError] = []
    for path in sorted(p for p in root.iterdir() if _is_card_file(p)):
        try:
            cards.append(load_card(path))
        except CardError as error:
            errors.append(error)
    by_id: dict[str, list[JackpotCard]] = {}
    for card in cards:
        by_id.setdefault(card.jackpot_id, []).append(card)
    kept: list[JackpotCard] = []
    for card in cards:
        twins = [other for other in by_id[card.jackpot_id] if other is not card]
        if twins:
            others = ", ".join(str(other.source_path) for other in twins)
            errors.append(CardError(card.source_path, f"jackpot_id {card.jackpot_id!r} is also declared by {others}",
                                    field="jackpot_id"))
        else:
            kept.append(card)
    errors.sort(key=lambda error: error.file)
    return kept, errors
