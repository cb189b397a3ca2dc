import warnings

from dagster import BetaWarning

# The shell relies on a few beta APIs on purpose: Output(data_version=...) pins ingestion versions to
# the source bytes, and multi-dimensional partition mappings express "same league, every season".
warnings.filterwarnings("ignore", category=BetaWarning)
