"""Machine learning: the coherent performance model, its training, evaluation, calibration and answers."""
