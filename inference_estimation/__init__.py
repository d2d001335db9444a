"""The inference-estimation Dagster code location (``definitions.py``) and its library."""
