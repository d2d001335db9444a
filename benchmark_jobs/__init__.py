"""The benchmark harness: what runs ON a benchmark machine.

It builds a model, measures workload points (latency, TTFT, TPOT, throughput, memory, power,
energy) and reports one :class:`benchmark_jobs.schema.MeasurementRecord` per point, either as
JSON lines (standalone) or as Dagster Pipes messages. It never imports ``dagster`` -- only
``dagster_pipes``, lazily, in the Pipes entry point -- so a benchmark machine needs neither the
orchestrator nor its dependencies.
"""

__version__ = "0.2.0"
