"""The PostgreSQL side of the warehouse (schema ``jackpot``): versioned migrations, roles, a partition
publisher and the Dagster instance profile. Pure library (psycopg, pandas, PyYAML), no Dagster import,
so it can be used from scripts and tests without an instance."""

SCHEMA = "jackpot"
