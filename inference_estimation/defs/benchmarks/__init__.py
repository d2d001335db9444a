"""Benchmark stage: catalog facts, benchmark runs per model x hardware partition, their checks, schedules and sensors."""
