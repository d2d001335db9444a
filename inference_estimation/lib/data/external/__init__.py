"""Public measurement datasets mapped onto the measurement record (see ``base`` and ``canonical``)."""
