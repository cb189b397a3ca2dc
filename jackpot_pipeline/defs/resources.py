"""Resources: the DuckDB warehouse (IO manager + direct connection) and the raw-file store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
from dagster import ConfigurableResource, InputContext, OutputContext, partition_loading_context
from dagster._core.storage.db_io_manager import DbIOManager
from dagster_duckdb_pandas import DuckDBPandasIOManager

from jackpot_pipeline.sources.fetch import snapshot_date

WAREHOUSE_SCHEMA = "main"


class UpstreamNotMaterialised(RuntimeError):
    """An input's table does not exist yet."""


class _DynamicPartitionAwareIOManager(DbIOManager):
    """Loads and stores slices of assets partitioned by dynamic dimensions.

    The stock DuckDB IO manager resolves partition keys without an instance and fails on any
    multi-partitioned asset with a dynamic dimension ("The instance is not available to load
    partitions", dagster issues #32631 and #33815). Giving the partition-loading context the run's
    instance as dynamic-partitions store fixes dynamic x static, dynamic x dynamic and dynamic x time.
    """

    def handle_output(self, context: OutputContext, obj: object) -> None:
        if isinstance(obj, pd.DataFrame):
            obj = with_text_columns_typed(obj)
        with partition_loading_context(dynamic_partitions_store=context.step_context.instance):
            super().handle_output(context, obj)

    def load_input(self, context: InputContext) -> object:
        with partition_loading_context(dynamic_partitions_store=context.instance):
            try:
                return super().load_input(context)
            except duckdb.CatalogException as error:
                upstream = context.asset_key.to_user_string()
                partitions = ", ".join(sorted(context.asset_partition_keys)) if context.has_asset_partitions else "-"
                raise UpstreamNotMaterialised(
                    f"{upstream} (partitions: {partitions}) has never been materialised in this warehouse; "
                    f"materialise it first ({error.args[0].splitlines()[0]})"
                ) from error


def with_text_columns_typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns of text (or only nulls) as pandas strings.

    DuckDB types an all-null object column as "NULL"; a table created from such a first partition
    then rejects text from every later one. A string column is VARCHAR whatever it holds.
    """
    converted = {}
    for column in frame.columns[frame.dtypes == object]:
        values = frame[column].dropna()
        if values.map(lambda value: isinstance(value, str)).all():
            converted[column] = frame[column].astype("string")
    return frame.assign(**converted) if converted else frame


class WarehouseIOManager(DuckDBPandasIOManager):
    """DuckDB pandas IO manager that works with dynamic partitions (see above)."""

    def create_io_manager(self, context) -> DbIOManager:
        stock = super().create_io_manager(context)
        return _DynamicPartitionAwareIOManager(
            db_client=stock._db_client,  # noqa: SLF001 - reuse the stock client, change only partition loading
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=self.default_load_type(),
            io_manager_name="DuckDBIOManager",
        )


class WarehouseResource(ConfigurableResource):
    """Direct SQL access to the DuckDB warehouse, for reads the IO manager cannot express
    (a partition's previous state, history tables, summaries)."""

    database: str
    schema_name: str = WAREHOUSE_SCHEMA

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        # Same configuration as dagster-duckdb's connections: DuckDB refuses a second in-process
        # connection to a file with a different one, and the IO manager can leave one open after an error.
        connection = duckdb.connect(self.database, read_only=read_only, config={"custom_user_agent": "dagster"})
        try:
            yield connection
        finally:
            connection.close()

    def table_exists(self, connection: duckdb.DuckDBPyConnection, table: str) -> bool:
        found = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [self.schema_name, table],
        ).fetchone()
        return bool(found and found[0])

    def read_partition(self, table: str, partition: dict[str, str], columns: Sequence[str] = ("*",)) -> pd.DataFrame | None:
        """The stored rows of one partition, or None when the table does not exist yet."""
        with self.connect() as connection:
            if not self.table_exists(connection, table):
                return None
            where = " AND ".join(f"{column} = ?" for column in partition)
            return connection.execute(
                f"SELECT {', '.join(columns)} FROM {self.schema_name}.{table} WHERE {where}",
                list(partition.values()),
            ).df()

    def query(self, sql: str, parameters: Sequence[object] = ()) -> pd.DataFrame:
        with self.connect() as connection:
            return connection.execute(sql, list(parameters)).df()


class RawFilesResource(ConfigurableResource):
    """The fetched football-data files below ``data/raw/`` (same layout as the publisher's site)."""

    raw_dir: str

    @property
    def root(self) -> Path:
        return Path(self.raw_dir)

    def read_bytes(self, relpath: str) -> bytes:
        return (self.root / relpath).read_bytes()

    def exists(self, relpath: str) -> bool:
        return (self.root / relpath).is_file()

    def snapshot_date(self, relpath: str, sha256: str) -> dt.date:
        return snapshot_date(self.root, relpath, sha256)
