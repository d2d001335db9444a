"""Tunables of the harness, in one place (units in every name)."""

#: Rough power drawn per fully busy CPU core, used only when no power sensor can be read.
#:
#: Where it comes from: TDP divided by core count of common parts -- server CPUs sit around
#: 3-7 W per core (e.g. AMD EPYC 7763: 280 W / 64 cores = 4.4 W; Intel Xeon Platinum 8380:
#: 270 W / 40 cores = 6.8 W), desktop/laptop CPUs around 10-20 W per core (e.g. Intel Core
#: i7-12700: 180 W max turbo / 12 cores = 15 W), and a VM vCPU is half a physical core. 10 W is a
#: mid-range ballpark, good to a factor of about 2, never a measurement: rows carry
#: ``power_source="estimate"`` and predictors never train power or energy targets on them.
ESTIMATED_CPU_W_PER_BUSY_CORE = 10.0

#: How often the memory tracker samples the process RSS.
MEMORY_SAMPLE_HZ = 100.0

#: Length of the idle window measured before a sweep when a real power sensor exists.
IDLE_POWER_WINDOW_S = 1.0

#: Prompts are random token ids in [PROMPT_TOKEN_ID_MIN, vocab) (avoids special ids near 0).
PROMPT_TOKEN_ID_MIN = 100

#: Seed for random weights and random prompts, so a run is reproducible.
RANDOM_SEED = 0

#: Error messages in records are cut to this length.
ERROR_MESSAGE_MAX_CHARS = 2000

#: Bytes per GB (decimal, as vendors and bandwidth figures use it).
BYTES_PER_GB = 1e9

#: Rate at which power-only sensors (NVML power, amdsmi power) are sampled and integrated.
#: NVML refreshes power every 20-100 ms depending on the GPU; 20 Hz catches each refresh of the
#: slower parts and stays far from costing measurable CPU time.
POWER_SAMPLE_HZ = 20.0

#: Shortest energy window of real sensors, unless a sweep sets ``min_energy_window_s``: NVML
#: energy counters and power readings update every 20-100 ms, so a window of a few updates
#: would carry a quantisation error of tens of percent; over 1 s it is a few percent at most.
MIN_SENSOR_ENERGY_WINDOW_S = 1.0
