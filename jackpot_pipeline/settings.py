"""Settings read from environment variables (documented in the README's settings table)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from jackpot_pipeline.sources.leagues import DEFAULT_LEAGUES, SeasonError, expand_leagues, expand_seasons

PUBLISHER_URL = "https://www.football-data.co.uk"
DEFAULT_SEASON_COUNT = 6
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    base_url: str
    leagues: tuple[str, ...]
    seasons_spec: str | None  # None: the last six seasons available at base_url
    data_dir: Path
    warehouse_url: str | None = None  # None: data_dir/warehouse; or an fsspec URL every worker can write
    # Seasons found at base_url, per day asked about: discovered once per run (one Settings object),
    # however many steps ask.
    _discovered: dict[dt.date, list[str]] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def warehouse_root(self):
        """The warehouse's Parquet files, one folder per table: a local ``Path`` or a ``UPath`` for a URL."""
        from jackpot_pipeline.warehouse.store import as_root

        return as_root(self.warehouse_url) if self.warehouse_url else self.data_dir / "warehouse"

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB catalogue: a view per table over the Parquet files, for people who query it."""
        return self.data_dir / "warehouse.duckdb"

    @property
    def jackpots_dir(self) -> Path:
        return self.data_dir / "jackpots"

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"

    def seasons(self, today: dt.date | None = None) -> list[str]:
        """The configured seasons, or the last six available at the base URL.

        Raises FetchError when the base URL cannot be asked, and SeasonError when it has no season
        of the configured leagues: a run never goes on with an empty list by accident.
        """
        if self.seasons_spec:
            return expand_seasons(self.seasons_spec)
        from jackpot_pipeline.sources.fetch import available_seasons

        day = today or dt.date.today()
        if day not in self._discovered:
            found = available_seasons(self.base_url, self.leagues, today=day)
            if not found:
                raise SeasonError(
                    f"{self.base_url} holds no season of {', '.join(self.leagues)} "
                    "(set JACKPOT_SEASONS to name seasons explicitly)"
                )
            self._discovered[day] = found
        return list(self._discovered[day][-DEFAULT_SEASON_COUNT:])


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("JACKPOT_DATA_DIR") or PROJECT_ROOT / "data")
    return Settings(
        base_url=(env.get("FOOTBALL_DATA_URL") or PUBLISHER_URL).rstrip("/"),
        leagues=tuple(expand_leagues(env.get("JACKPOT_LEAGUES") or ",".join(DEFAULT_LEAGUES))),
        seasons_spec=(env.get("JACKPOT_SEASONS") or "").strip() or None,
        data_dir=data_dir.resolve(),
        warehouse_url=(env.get("JACKPOT_WAREHOUSE_URL") or "").strip() or None,
    )
