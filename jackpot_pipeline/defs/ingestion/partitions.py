from dagster import DynamicPartitionsDefinition, MultiPartitionsDefinition

league_partitions = DynamicPartitionsDefinition(name="league")
season_partitions = DynamicPartitionsDefinition(name="season")
# keys read "<league>|<season>", e.g. "E0|2324": Dagster orders dimensions by name
league_season_partitions = MultiPartitionsDefinition({"league": league_partitions, "season": season_partitions})
