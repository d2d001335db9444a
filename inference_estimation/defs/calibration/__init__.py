"""Calibration stage: a device's next benchmark points (``next_benchmarks``), and the sensor that measures them."""
