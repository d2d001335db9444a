"""Benchmark sweeps: what one benchmark partition runs (points, skip reasons, job specs), and summaries of its runs."""
