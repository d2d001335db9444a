"""Physics of inference: what a model on a device computes, reads and holds (features, memory fit)."""
