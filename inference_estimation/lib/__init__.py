"""Dagster-free logic: catalog, features, the performance model, predict, warehouse."""
