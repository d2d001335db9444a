"""Step-model stage: the step-time model (efficiencies, schedulers, campaign effects) and its promotion."""
