"""Benchmark stage: benchmark runs per model x hardware partition, their checks, schedules and sensors."""
