"""Dagster definitions by stage, autoloaded by ``definitions.py``."""
