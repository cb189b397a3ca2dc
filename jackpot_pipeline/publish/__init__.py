"""The PostgreSQL side of the warehouse (schema ``jackpot``): versioned migrations, roles, the partition
publishers and the Dagster instance profile. Pure library (psycopg, pandas, PyYAML), no Dagster import,
so it can be used from scripts and tests without an instance."""

SCHEMA = "jackpot"


class PublishError(ValueError):
    """The frame cannot be published as asked (unknown columns, rows outside the partition...)."""
