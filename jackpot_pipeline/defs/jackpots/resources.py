"""``JackpotFilesResource``: the card folder (``data/jackpots/``) and the exports folder (``data/exports/``)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from dagster import ConfigurableResource

from jackpot_pipeline.jackpots.cards import RESULTS_SUFFIX, CardError, JackpotCard, load_card

__all__ = ["JackpotFilesResource", "card_files", "declared_jackpot_id", "find_card", "results_files"]


def _visible_file(path: Path) -> bool:
    # hidden files: editor swap files and our own atomic-write temp files
    return path.is_file() and not path.name.startswith(".")


def card_files(folder: Path) -> list[Path]:
    """Card files of ``folder`` in name order: ``*.json`` and ``*.csv``, not ``*.results.csv``, not hidden."""
    if not folder.is_dir():
        return []
    return sorted(
        path for path in folder.iterdir()
        if _visible_file(path) and path.suffix.lower() in (".json", ".csv") and not path.name.lower().endswith(RESULTS_SUFFIX)
    )


def results_files(folder: Path) -> list[Path]:
    """``*.results.csv`` files of ``folder`` in name order."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if _visible_file(path) and path.name.lower().endswith(RESULTS_SUFFIX))


def declared_jackpot_id(path: Path) -> str | None:
    """The jackpot_id a card file *claims*, read leniently (for files that fail validation), or None."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        if path.suffix.lower() == ".json":
            value = json.loads(text).get("jackpot_id")
        else:
            rows = csv.DictReader(io.StringIO(text))
            first = next(rows, None) or {}
            value = next((cell for column, cell in first.items() if (column or "").strip().lower() == "jackpot_id"), None)
    except (ValueError, AttributeError, csv.Error):
        return None
    return value.strip() if isinstance(value, str) and value.strip() else None


def find_card(folder: Path, jackpot_id: str) -> JackpotCard:
    """The card declaring ``jackpot_id`` in ``folder``.

    Raises :class:`CardError` when no file declares it, when two files do, or with the file's own
    validation error when the file declaring it (or named ``<jackpot_id>.json|.csv``) is invalid.
    """
    found: list[JackpotCard] = []
    broken: list[CardError] = []
    for path in card_files(folder):
        try:
            card = load_card(path)
        except CardError as error:
            if declared_jackpot_id(path) == jackpot_id or path.stem == jackpot_id:
                broken.append(error)
            continue
        if card.jackpot_id == jackpot_id:
            found.append(card)
    claims = [str(card.source_path) for card in found] + [error.file for error in broken]
    if len(claims) > 1:
        raise CardError(claims[0], f"jackpot_id {jackpot_id!r} is declared by {len(claims)} files: {', '.join(claims)}; "
                                   "keep one", field="jackpot_id")
    if broken:
        raise broken[0]
    if not found:
        raise CardError(folder, f"no card file in this folder declares jackpot_id {jackpot_id!r}")
    return found[0]


class JackpotFilesResource(ConfigurableResource):
    """Jackpot cards (and ``<card stem>.results.csv`` results files) and the exports folder."""

    jackpots_dir: str
    exports_dir: str

    @property
    def root(self) -> Path:
        return Path(self.jackpots_dir)

    @property
    def exports(self) -> Path:
        return Path(self.exports_dir)

    def card_files(self) -> list[Path]:
        return card_files(self.root)

    def find_card(self, jackpot_id: str) -> JackpotCard:
        return find_card(self.root, jackpot_id)

    def results_file(self, jackpot_id: str) -> Path | None:
        """``<card stem>.results.csv`` beside the card declaring ``jackpot_id``, when there is one."""
        try:
            card = self.find_card(jackpot_id)
        except CardError:
            return None
        path = card.source_path.with_name(card.source_path.stem + RESULTS_SUFFIX)
        return path if path.is_file() else None
