"""Catalog stage: the catalog's hardware and model facts landed in the warehouse (local CPUs probed first)."""
