"""Data: the DuckDB warehouse, row checks, dataset reports and the public-data importers."""
