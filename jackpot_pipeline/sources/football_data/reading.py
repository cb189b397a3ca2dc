"""Reading a football-data.co.uk file as rows: decoding, lines, fields, header and file format.

Only a file that cannot be read as a football-data CSV at all raises :class:`SourceFormatError`;
a line whose fields cannot be split is kept as an unreadable :class:`SourceRow`.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from jackpot_pipeline.sources.fetch import sha256_bytes

MAIN_FORMAT = "main"
EXTRA_FORMAT = "extra"
REQUIRED_COLUMNS = {
    MAIN_FORMAT: ("Div", "Date", "HomeTeam", "AwayTeam", "FTHG", "FTAG", "FTR"),
    EXTRA_FORMAT: ("Country", "League", "Season", "Date", "Home", "Away", "HG", "AG", "Res"),
}
# Older spellings of required columns: early-2000s Greek files name the teams HT and AT.
COLUMN_ALIASES = {"HomeTeam": ("HT",), "AwayTeam": ("AT",)}
_LINE_BREAK = re.compile(r"\r\n|\n|\r")
_LINE_BREAK_BYTES = re.compile(rb"(\r\n|\n|\r)")


class SourceFormatError(ValueError):
    """The bytes are not a football-data.co.uk CSV (HTML page, truncated file, wrong columns...)."""

    def __init__(self, relpath: str, problem: str):
        super().__init__(f"{relpath}: {problem}")
        self.relpath = relpath
        self.problem = problem


@dataclass(frozen=True)
class DecodedSource:
    relpath: str
    sha256: str
    n_bytes: int
    # "ascii", "utf-8", "utf-8-sig", "utf-16", "cp1252" (no line is multi-byte UTF-8) or
    # "utf-8+cp1252" (lines of both)
    encoding: str
    line_ending: str  # "CRLF", "LF", "CR" or "mixed"
    text: str


@dataclass(frozen=True)
class SourceRow:
    line_number: int  # 1-based line in the file; the header is line 1
    text: str
    fields: tuple[str, ...]
    is_blank: bool
    unreadable: str | None = None  # why the line could not be split into fields


@dataclass(frozen=True)
class ParsedSource:
    decoded: DecodedSource
    format: str
    header: tuple[str, ...]
    rows: tuple[SourceRow, ...]

    @property
    def data_lines(self) -> int:
        return len(self.rows)


def decode_source(data: bytes, relpath: str) -> DecodedSource:
    sha256 = sha256_bytes(data)
    if not data.strip():
        raise SourceFormatError(relpath, "the file is empty")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise SourceFormatError(relpath, f"UTF-16 text that does not decode (byte {error.start})") from None
        encoding = "utf-16"
    else:
        head = data[:2048].lstrip().lower()
        if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")) or b"<html" in head:
            raise SourceFormatError(relpath, "this is an HTML page, not a football-data CSV (error page?)")
        text, encoding = _decode_text(data)
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise SourceFormatError(
            relpath, f"binary content: NUL byte on line {line}, not a CSV (a corrupted or partial download?)"
        )
    if text.startswith("\ufeff") and encoding == "utf-16":
        text = text[1:]
    return DecodedSource(relpath, sha256, len(data), encoding, _line_ending(text), text)


def _decode_text(data: bytes) -> tuple[str, str]:
    """Text and encoding label of UTF-8 or Windows bytes.

    The publisher writes Windows text; two shared files carry one cp1252 no-break space (0xA0) in
    otherwise ASCII files. Lines are decoded one by one so a single such byte never turns the
    UTF-8 names of every other line into mojibake. Bytes cp1252 leaves undefined are kept as
    latin-1 code points (control characters), so nothing is dropped and a team name holding one is
    quarantined rather than guessed.
    """
    encoding, body = ("utf-8-sig", data[3:]) if data.startswith(b"\xef\xbb\xbf") else ("utf-8", data)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return text, ("ascii" if encoding == "utf-8" and text.isascii() else encoding)
    pieces: list[str] = []
    kinds: set[str] = set()
    for piece in _LINE_BREAK_BYTES.split(body):
        try:
            decoded = piece.decode("utf-8")
            if not decoded.isascii():
                kinds.add("utf-8")
        except UnicodeDecodeError:
            decoded = piece.decode("cp1252") if _cp1252_clean(piece) else piece.decode("latin-1")
            kinds.add("cp1252")
        pieces.append(decoded)
    return "".join(pieces), ("utf-8+cp1252" if kinds == {"utf-8", "cp1252"} else "cp1252")


def _cp1252_clean(body: bytes) -> bool:
    return not any(byte in body for byte in (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d"))


def _line_ending(text: str) -> str:
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    cr = text.count("\r") - crlf
    kinds = [name for name, count in (("CRLF", crlf), ("LF", lf), ("CR", cr)) if count]
    return kinds[0] if len(kinds) == 1 else ("mixed" if kinds else "LF")


def split_line(line: str) -> tuple[str, ...]:
    """The fields of one CSV line; ``csv.Error`` when its quotes do not balance."""
    reader = csv.reader([line], strict=True)
    fields = next(reader, [])
    if next(reader, None) is not None:
        raise csv.Error("the line holds more than one record")
    return tuple(fields)


def parse_source(data: bytes, relpath: str) -> ParsedSource:
    decoded = decode_source(data, relpath)
    lines = _LINE_BREAK.split(decoded.text)
    ends_with_newline = lines[-1] == ""
    if ends_with_newline:
        lines.pop()
    try:
        header = _clean_header(split_line(lines[0]))
    except csv.Error:
        raise SourceFormatError(relpath, "the header line cannot be read as CSV (unbalanced quotes)") from None
    file_format = _detect_format(header, relpath)
    rows = []
    for line_number, line in enumerate(lines[1:], start=2):
        try:
            fields = split_line(line)
        except csv.Error:
            rows.append(SourceRow(line_number, line, (), False, "unbalanced quotes"))
            continue
        rows.append(SourceRow(line_number, line, fields, all(not cell.strip() for cell in fields)))
    if rows and not ends_with_newline and not rows[-1].is_blank:
        last, named = rows[-1], named_width(header)
        if last.unreadable or len(last.fields) < named:
            raise SourceFormatError(
                relpath,
                f"truncated: line {last.line_number} has {len(last.fields)} of {named} fields "
                "and the file does not end with a newline",
            )
    return ParsedSource(decoded, file_format, header, tuple(rows))


def named_width(header: Sequence[str]) -> int:
    """Columns up to the last one with a name: 1990s headers are padded with empty names."""
    width = len(header)
    while width and header[width - 1].startswith("_unnamed_"):
        width -= 1
    return width


def _clean_header(names: Sequence[str]) -> tuple[str, ...]:
    cleaned: list[str] = []
    seen: Counter[str] = Counter()
    for position, name in enumerate(names):
        # mmz4281/2122/B1.csv ends its header (and rows) with a comma: an unnamed column; files of
        # the 1990s pad their 7 names with 21 empty ones.
        base = name.replace("\ufeff", "").strip() or f"_unnamed_{position + 1}"
        seen[base] += 1
        cleaned.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return tuple(cleaned)


def resolve_column(columns: Iterable[str], name: str) -> str | None:
    present = set(columns)
    for candidate in (name, *COLUMN_ALIASES.get(name, ())):
        if candidate in present:
            return candidate
    return None


def _detect_format(header: Sequence[str], relpath: str) -> str:
    missing_by_format = {
        file_format: [c for c in required if resolve_column(header, c) is None]
        for file_format, required in REQUIRED_COLUMNS.items()
    }
    for file_format, missing in missing_by_format.items():
        if not missing:
            return file_format
    main_missing, extra_missing = missing_by_format[MAIN_FORMAT], missing_by_format[EXTRA_FORMAT]
    missing = main_missing if len(main_missing) <= len(extra_missing) else extra_missing
    shown = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
    raise SourceFormatError(
        relpath,
        f"not a football-data CSV: missing column(s) {', '.join(missing)} (header: {printable(shown, 160)})",
    )


def printable(text: str, limit: int) -> str:
    """``text`` safe to show in a message: control characters escaped, at most ``limit`` characters."""
    shown = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
