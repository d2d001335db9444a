"""How long the catalog takes to load and index, and one name lookup once it is warm.

Usage: ``.venv/bin/python benchmarks/name_lookup_speed.py`` (prints seconds; goals: cold load and
first lookups < 1 s, a warm lookup < 5 ms, on an idle 2-core machine).
"""

import time

from inference_estimation.lib.catalog import load_catalog


def main() -> None:
    """Prints the cold and warm timings."""
    started = time.perf_counter()
    catalog = load_catalog(overlay_dirs=[])
    catalog.hw("NVIDIA H100 80GB HBM3")
    catalog.model("meta-llama/Llama-3.1-8B-Instruct")
    cold_s = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(200):
        catalog.hw("H100 SXM 80GB")
        catalog.model("Qwen/Qwen3-30B-A3B-FP8")
    warm_s = (time.perf_counter() - started) / 200
    print(f"catalog load + first lookups: {cold_s:.3f} s (goal < 1 s)")
    print(f"warm lookup (hardware + model): {warm_s * 1000:.2f} ms (goal < 5 ms)")


if __name__ == "__main__":
    main()
