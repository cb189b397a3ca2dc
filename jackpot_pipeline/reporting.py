"""Text for people: markdown tables and a marker type for metadata that is markdown."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class Markdown(str):
    """Metadata text to show as markdown (the Dagster shell turns it into ``MetadataValue.md``)."""


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]], align: str | None = None) -> Markdown:
    """A markdown table; ``align`` holds one of ``l``/``r``/``c`` per column (default: left)."""
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    widths = align or "l" * len(headers)
    if len(widths) != len(headers):
        raise ValueError(f"align {align!r} does not give one letter per column ({len(headers)})")
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(marks[a] for a in widths) + "|"]
    for row in rows:
        cells = [str(cell) for cell in row]
        if len(cells) != len(headers):
            raise ValueError(f"row {cells!r} does not have {len(headers)} cells")
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return Markdown("\n".join(lines))
