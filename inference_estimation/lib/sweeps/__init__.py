"""Benchmark planning: what one benchmark partition measures, and summaries of its runs."""
