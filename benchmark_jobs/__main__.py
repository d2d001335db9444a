"""``python -m benchmark_jobs``: see :mod:`benchmark_jobs.cli`."""

import sys

from benchmark_jobs.cli import main

if __name__ == "__main__":
    sys.exit(main())
