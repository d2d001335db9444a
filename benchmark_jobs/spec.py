"""The job spec: what the orchestrator asks a benchmark machine to measure.

A spec is plain JSON (sent as a Dagster Pipes extra, or read from a file when the harness runs
standalone), so the benchmark machine needs neither dagster nor the catalog. It is validated at
construction, with errors that name the field.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SPEC_VERSION = "1.0"


class SpecError(ValueError):
    """The job spec is invalid; the message names the field."""


@dataclass(frozen=True)
class ModelSpec:
    """The model to build on the benchmark machine.

    Attributes:
        key: catalog key (partition-safe slug).
        hf_id: Hugging Face id, used only when ``weight_source`` is ``pretrained``.
        family: architecture family as transformers names it (``gpt2``, ``llama``, ``qwen2``...).
        architecture: config kwargs in the family's own names (built with random weights).
        params: parameter count (for reporting and memory checks).
    """

    key: str
    hf_id: str | None
    family: str
    architecture: dict[str, Any]
    params: int | None = None


@dataclass(frozen=True)
class WorkloadPoint:
    """One point of the grid: generation is forced to exactly ``output_tokens`` new tokens."""

    batch_size: int
    input_tokens: int
    output_tokens: int
    dtype: str = "float32"
    prompt_type: str = "random"

    def __post_init__(self) -> None:
        for name in ("batch_size", "input_tokens", "output_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SpecError(f"workload field '{name}' must be a positive integer, got {value!r}")
        if self.dtype not in ("float32", "bfloat16", "float16"):
            raise SpecError(f"workload field 'dtype' is {self.dtype!r}; allowed: float32, bfloat16, float16")


@dataclass(frozen=True)
class MeasurementSettings:
    """How carefully to measure each point.

    Attributes:
        warmup_runs: untimed generations before the timed trials of each point.
        min_trials: timed trials always run.
        max_trials: cap on timed trials while the latency CV is above ``target_cv``.
        target_cv: stop adding trials once std/mean of e2e latency is below this.
        cooldown_s: sleep between trials (lets clocks/thermals settle).
        point_timeout_s: a point exceeding this is recorded with ``status=timeout``.
        threads: torch intra-op threads on CPU (None = leave torch's default).
    """

    warmup_runs: int = 1
    min_trials: int = 2
    max_trials: int = 5
    target_cv: float = 0.03
    cooldown_s: float = 0.0
    point_timeout_s: float = 600.0
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.warmup_runs < 0:
            raise SpecError("settings field 'warmup_runs' must be >= 0")
        if self.min_trials < 1 or self.max_trials < self.min_trials:
            raise SpecError("settings fields 'min_trials'/'max_trials' need 1 <= min_trials <= max_trials")
        if self.target_cv <= 0:
            raise SpecError("settings field 'target_cv' must be > 0")
        if self.point_timeout_s <= 0 or self.cooldown_s < 0:
            raise SpecError("settings fields need point_timeout_s > 0 and cooldown_s >= 0")
        if self.threads is not None and self.threads < 1:
            raise SpecError("settings field 'threads' must be >= 1")


@dataclass(frozen=True)
class JobSpec:
    """Everything one benchmark run needs.

    Attributes:
        run_id: unique id of this run; every row carries it.
        source: measurement source label (``local`` for our own sweeps).
        sweep: sweep name from the catalog.
        partition_key: the Dagster partition this run materializes.
        hardware_key: catalog key of the target hardware.
        device: torch device string (``cpu``, ``cuda``).
        backend: harness backend name (``transformers``).
        weight_source: ``random`` (build from config) or ``pretrained`` (needs the hub).
        model: the model to build.
        points: workload points, measured in order.
        settings: measurement settings.
    """

    run_id: str
    source: str
    sweep: str
    partition_key: str | None
    hardware_key: str
    device: str
    backend: str
    weight_source: str
    model: ModelSpec
    points: tuple[WorkloadPoint, ...]
    settings: MeasurementSettings = field(default_factory=MeasurementSettings)
    spec_version: str = SPEC_VERSION

    def __post_init__(self) -> None:
        for name in ("run_id", "source", "hardware_key", "device", "backend"):
            if not getattr(self, name):
                raise SpecError(f"spec field '{name}' is required")
        if not self.model.key:
            raise SpecError("spec field 'model.key' is required")
        if self.weight_source not in ("random", "pretrained"):
            raise SpecError(f"spec field 'weight_source' is {self.weight_source!r}; allowed: random, pretrained")
        if not self.points:
            raise SpecError("spec field 'points' is empty")

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-serialisable dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JobSpec":
        """Builds a spec from its dict form.

        Raises:
            SpecError: naming the missing or invalid field.
        """
        try:
            payload = dict(data)
            payload["model"] = ModelSpec(**payload["model"])
            payload["points"] = tuple(WorkloadPoint(**p) for p in payload["points"])
            payload["settings"] = MeasurementSettings(**payload.get("settings", {}))
            return cls(**payload)
        except KeyError as exc:
            raise SpecError(f"spec field {exc} is required") from exc
        except TypeError as exc:
            raise SpecError(f"spec has an unknown or missing field: {exc}") from exc

    @classmethod
    def from_file(cls, path: str | Path) -> "JobSpec":
        """Reads a JSON spec file.

        Raises:
            SpecError: naming the file and the field.
        """
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except json.JSONDecodeError as exc:
            raise SpecError(f"{path}: not valid JSON: {exc}") from exc
        except SpecError as exc:
            raise SpecError(f"{path}: {exc}") from exc


def grid_points(
    batch_sizes: list[int],
    input_tokens: list[int],
    output_tokens: list[int],
    dtypes: list[str],
    prompt_type: str = "random",
) -> tuple[WorkloadPoint, ...]:
    """Expands a sweep's axes into workload points (cartesian product, small to large)."""
    return tuple(
        WorkloadPoint(batch_size=b, input_tokens=i, output_tokens=o, dtype=d, prompt_type=prompt_type)
        for d, b, i, o in itertools.product(dtypes, sorted(batch_sizes), sorted(input_tokens), sorted(output_tokens))
    )
