"""``python -m inference_estimation.cli``: the ``inference-estimation`` command."""

import sys

from inference_estimation.cli import main

sys.exit(main())
