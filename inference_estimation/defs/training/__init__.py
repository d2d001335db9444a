"""Training stage: primitives' predictors, their evaluation, promotion and the gate."""
