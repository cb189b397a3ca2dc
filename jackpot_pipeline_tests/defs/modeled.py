"""A modeled workspace for the jackpot, trace and publishing tests: built once per test process.

Copies of the real E0 SP1 D1 I1 F1 files of 2021/22-2023/24 and the sample card go into a temporary data
dir, and ``make run``'s engine (:func:`~jackpot_pipeline.defs.local_runs.run_pipeline`) brings everything
up to date against a temporary instance: ingestion, walk-forward, calibration, match predictions,
validation, the unpartitioned tables, and the sample card finalised with its exports and validation.

Several test folders use it; a fixture of the same name in each of their conftests would build it once per
folder, so :func:`modeled_workspace` keeps the one workspace for the life of the process and closes its
instance when pytest finishes. Tests that add cards do so through :meth:`ModeledWorkspace.scratch_card`,
which removes every trace of them afterwards (card, warehouse files, exports, partition key): what the
setup built is what every test sees, whatever ran before it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from dagster import AssetKey, AssetRecordsFilter, instance_for_test

from jackpot_pipeline.defs.local_runs import RunOutcome
from jackpot_pipeline.defs.partitions import jackpot_partitions
from jackpot_pipeline.settings import PROJECT_ROOT, Settings
from jackpot_pipeline_tests.defs.conftest import Workspace

SAMPLE_CARD = PROJECT_ROOT / "data" / "jackpots" / "sample_2324_final.json"
SAMPLE_ID = "sample_2324_final"
LEAGUES = ("E0", "SP1", "D1", "I1", "F1")
SEASONS = ("2122", "2223", "2324")
JACKPOT_TABLES = ("jackpots", "jackpot_predictions", "jackpot_validation", "jackpot_results")


@dataclass
class ModeledWorkspace(Workspace):
    """A workspace with the outcome of the ``make run`` that set it up, and helpers for jackpot cards."""

    outcome: RunOutcome = field(default_factory=RunOutcome)
    setup_seconds: float = 0.0

    @property
    def cards(self) -> Path:
        return self.settings.jackpots_dir

    @property
    def exports(self) -> Path:
        return self.settings.exports_dir

    def predict(self, jackpot_id: str):
        """One run of ``jackpot_predictions`` for the card (its partition added first); never raises."""
        self.add(jackpots=(jackpot_id,))
        return self.run("jackpot_predictions", partitions=[jackpot_id], raise_on_error=False)

    def setup_run(self, label: str) -> dict:
        """The setup's run of that label (``jackpot_predictions sample_2324_final``)."""
        (found,) = [run for run in self.outcome.runs if run["label"] == label]
        return found

    def first_materialization(self, asset: str, partition: str):
        records = self.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[partition]), limit=1, ascending=True
        ).records
        return records[0] if records else None

    def stored_bytes(self, jackpot_id: str) -> dict[str, bytes]:
        """The warehouse files of a jackpot, byte for byte (equal bytes: nothing was written)."""
        return {table: self.store.path(table, jackpot_id).read_bytes()
                for table in ("jackpots", "jackpot_predictions") if self.store.exists(table, jackpot_id)}

    @contextlib.contextmanager
    def scratch_card(self, name: str, content: str | bytes, jackpot_id: str | None = None) -> Iterator[Path]:
        """A card file in the card folder for the duration of the block; afterwards the file, whatever the
        warehouse and the exports hold under its jackpot_id (default: the file name's stem) and the
        partition key are gone. The instance keeps the partition's materialization history (the planner
        would take a card it saw before as current), so every test uses jackpot ids of its own."""
        path = self.cards / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        jackpot_id = jackpot_id or name.split(".", 1)[0]
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)
            self.forget_jackpot(jackpot_id)

    def forget_jackpot(self, jackpot_id: str) -> None:
        if jackpot_id == SAMPLE_ID:
            raise ValueError("the sample card belongs to the session setup")
        for table in JACKPOT_TABLES:
            self.store.remove(table, jackpot_id)
        for suffix in (".json", ".csv"):
            (self.exports / f"{jackpot_id}{suffix}").unlink(missing_ok=True)
        if self.instance.has_dynamic_partition(jackpot_partitions.name, jackpot_id):
            self.instance.delete_dynamic_partition(jackpot_partitions.name, jackpot_id)


def card_as(jackpot_id: str) -> bytes:
    """The sample card under another id."""
    card = json.loads(SAMPLE_CARD.read_text())
    card["jackpot_id"] = jackpot_id
    return json.dumps(card).encode()


def bad_card_bytes(jackpot_id: str = "broken_card") -> bytes:
    """The sample card under another id, with a draw price below 1.01 on fixture 3."""
    card = json.loads(card_as(jackpot_id))
    card["fixtures"][2]["odds"]["draw"] = 0.5
    return json.dumps(card).encode()


_built: dict[str, ModeledWorkspace] = {}


def modeled_workspace(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory, shared: Path) -> ModeledWorkspace:
    """The process's modeled workspace, built on first use."""
    if "workspace" in _built:
        return _built["workspace"]
    stack = contextlib.ExitStack()
    config.add_cleanup(stack.close)
    instance = stack.enter_context(instance_for_test())
    data_dir = tmp_path_factory.mktemp("modeled") / "data"
    settings = Settings(base_url=shared.as_uri(), leagues=LEAGUES, seasons_spec="2122-2324", data_dir=data_dir)
    workspace = ModeledWorkspace(settings, instance, shared)
    workspace.copy(*(f"mmz4281/{season}/{league}.csv" for league in LEAGUES for season in SEASONS))
    workspace.cards.mkdir(parents=True)
    shutil.copyfile(SAMPLE_CARD, workspace.cards / SAMPLE_CARD.name)
    started = time.perf_counter()
    workspace.outcome = workspace.pipeline()
    workspace.setup_seconds = time.perf_counter() - started
    # the copies carry today's snapshot date, so every 2023/24 league is stale: a warning, not a failure
    assert workspace.outcome.success, (workspace.outcome.failed, workspace.outcome.checks_failed)
    _built["workspace"] = workspace
    return workspace
