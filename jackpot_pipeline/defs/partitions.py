"""Partitions: league × season keys (``E0|2324``) and jackpot cards (their ``jackpot_id``).

League × season is one dynamic dimension holding only the combinations that have a source file, in the
order they were added; a run over several of them covers a contiguous range of that order.
"""

from dagster import AllPartitionMapping, AssetDep, DynamicPartitionsDefinition

league_season_partitions = DynamicPartitionsDefinition(name="league_season")
jackpot_partitions = DynamicPartitionsDefinition(name="jackpots")


def every_partition_of(asset: str) -> AssetDep:
    """A dependency on all of ``asset``'s partitions (a whole-table read of a partitioned asset)."""
    return AssetDep(asset, partition_mapping=AllPartitionMapping())
