"""Tunables in one place: run-time knobs are dg.Config classes that default to these."""

from inference_estimation.targets import LEARNED_TARGETS, UNITS

#: Run tag whose value names the physical host a run executes on; dagster.yaml limits it to one
#: run per unique value, so benchmarks (and local training) on one machine never overlap.
HOST_TAG = "inference_estimation/host"
#: The concurrency pool shared by every DuckDB writer (limit 1 in dagster.yaml).
DUCKDB_POOL = "duckdb"

DEFAULT_SWEEP = "local-demo"

#: The primitives that are learned, one CatBoost predictor each (training partitions); every other
#: answer follows from them by identities (lib/ml/performance_model.py). Declared in the registry.
PRIMITIVES = LEARNED_TARGETS
#: The CatBoost primitives ``predict`` serves beside the step-time model (which answers every time
#: target): what ``sweep`` and ``refresh`` train by default. The time primitives (the previous
#: design, kept for comparison and SHAP) train with ``sweep --all-primitives`` and in the weekly
#: full-scoring job.
SERVED_PRIMITIVES = ("avg_power_w", "peak_memory_gb")
#: The measured figures that label the primitives: the learned targets and the identities of them
#: (power and energy from measured power only). Written out because its order is hashed into every
#: data version; tests/test_targets.py ties it to the registry (:mod:`inference_estimation.targets`).
TARGETS = ("e2e_latency_s", "ttft_s", "tpot_s", "output_throughput_tok_s", "peak_memory_gb", "avg_power_w",
           "energy_per_output_token_j")
#: Units of every answer target (declared once, in the target registry).
TARGET_UNITS = dict(UNITS)

#: Accelerators one node holds when its catalog entry names no ``devices_per_node`` (the common
#: 8-GPU server: HGX/DGX, MI300X platforms, Gaudi boxes).
DEFAULT_DEVICES_PER_NODE = 8

#: A catalog "GB" of device memory in units of 10^9 bytes. Vendors size device memory in binary
#: units (an "80 GB" H100 holds 80 GiB, 85.9e9 bytes; torch reports 79.2 GiB of it), while weights and
#: KV cache are counted in 10^9 bytes: the memory rule and the step physics both read ``memory_gb`` as
#: GiB, and the local probe writes it so.
CATALOG_GB_IN_GB = 1024.0**3 / 1e9

#: Share of a device's memory a benchmark may plan to use (weights + KV + activations).
USABLE_MEMORY_FRACTION = 0.8
#: Multiplier on weights + KV cache for activations, allocator slack and the runtime itself.
MEMORY_OVERHEAD_FACTOR = 1.3
#: Resident memory of the Python + torch runtime itself on a CPU, GB: what a CPU's peak RSS adds to
#: weights, KV cache and activations (on GPUs the allocator's peak excludes it). Fitted on test-tiny's
#: measured peaks (measured/physics 0.87-0.91); the memory-fit rule and the peak-memory physics both
#: read it.
CPU_RUNTIME_MEMORY_GB = 0.5

#: Grouped-by-model folds of a predictor's held-out score and conformal interval (capped at the number
#: of models); one value for every run, whoever starts it (``TrainingResource.cv_folds``).
CV_FOLDS = 4
#: CatBoost settings for the learned predictors (small data: few, shallow-ish trees).
CATBOOST_ITERATIONS = 600
#: Depth 6 (was 4) lets the trees combine campaign conventions with the physics regime: on the public
#: data leave-one-hardware-out MdAPE of the coherent model fell for every target (TPOT 14.8 -> 13.1%,
#: throughput 23.4 -> 20.7%, power 15.1 -> 14.4%, TTFT 30.9 -> 30.1%, e2e 19.4 -> 18.9%).
CATBOOST_DEPTH = 6
CATBOOST_LEARNING_RATE = 0.05
#: Categoricals with at most this many values are one-hot encoded; only larger ones (model family)
#: get CatBoost's target statistics and their combinations. On the public data this made fits
#: ~3.5x faster (no combination CTRs of engine x vendor x source ...) and leave-one-hardware-out
#: MdAPE summed over targets 131 -> 127 points (leave-one-model-out 191 -> 189).
CATBOOST_ONE_HOT_MAX_SIZE = 12
#: Fewer boosting rounds per evaluation fold (many fits); the promoted model uses the full count.
EVALUATION_ITERATIONS = 300
PREDICTION_INTERVAL = 0.90
SHAP_MAX_ROWS = 500

#: Share of each device a paged engine reserves up front (vLLM's default ``gpu_memory_utilization``);
#: weights, activations and the paged KV cache share it (``lib/physics/memory.py``).
PAGED_ENGINE_MEMORY_UTILIZATION = 0.9
#: Activation peak, CUDA graphs and the CUDA context a paged engine needs per device besides
#: weights and KV cache (GB).
PAGED_ENGINE_RESERVE_GB_PER_DEVICE = 1.0
#: Calibration points a device's plan asks for (next_benchmarks, calibration_sensor, `calibrate`).
CALIBRATION_POINTS = 5
#: Concurrencies of the serving points a calibration plan lists beside its offline points (one
#: user, a small and a loaded server), at each planned model's median offline workload.
CALIBRATION_SERVING_CONCURRENCIES = (1, 8, 32)
