"""Hardware entries: a device's specs and the launcher that reaches it (local process or dstack)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from inference_estimation.lib.catalog.base import (
    SPEC_SOURCES,
    StrictEntry,
    check_key,
)
from inference_estimation.lib.catalog.generations import Generation, generations


class HardwareSpecs(StrictEntry):
    """Spec facts per ONE device (multiply by ``device_count`` for the entry). Null = unknown."""

    peak_tflops_fp32: float | None = Field(default=None, gt=0)
    peak_tflops_bf16: float | None = Field(default=None, gt=0)
    peak_tflops_fp16: float | None = Field(default=None, gt=0)
    peak_tflops_fp8: float | None = Field(default=None, gt=0)
    #: Dense FP4 (NVFP4/MXFP4) tensor-core peak; null where the device has no FP4 math.
    peak_tflops_fp4: float | None = Field(default=None, gt=0)
    memory_gb: float | None = Field(default=None, gt=0)
    memory_bandwidth_gb_s: float | None = Field(default=None, gt=0)
    tdp_w: float | None = Field(default=None, gt=0)
    interconnect: str | None = None
    interconnect_bandwidth_gb_s: float | None = Field(default=None, gt=0)
    #: The most devices one node (server, tray or rack domain) joins by ``interconnect``; null =
    #: :data:`inference_estimation.constants.DEFAULT_DEVICES_PER_NODE` for accelerators.
    devices_per_node: int | None = Field(default=None, gt=0)
    #: The network between nodes (e.g. ``infiniband-ndr``): a question past one node is answered
    #: only when it is known, and the answer names it with the node count.
    scale_out_interconnect: str | None = None
    #: Scale-out bandwidth per device, both directions (one 400 Gb/s NIC per GPU = 100 GB/s).
    scale_out_bandwidth_gb_s: float | None = Field(default=None, gt=0)
    price_per_hour_usd: float | None = Field(default=None, ge=0)


class PriceSource(StrictEntry):
    """Where a device's ``price_per_hour_usd`` was read: a public on-demand list price, as the page said it.

    Attributes:
        provider: the cloud that rents it (``AWS``, ``Azure``, ``Lambda``, ...).
        instance_type: the instance or offer the price is for (``p5.48xlarge``, ``8x NVIDIA B200 SXM6``).
        devices_per_instance: devices in that instance; the catalog's price is per device.
        quote: the price as the page states it, with its unit (``$55.04/h for the instance``).
        url: the provider's price page.
        read_on: the date the page was read (``YYYY-MM-DD``; ``YYYY`` where only the year was recorded).
        via: a public transcription of the page the figure was taken from, when not read first-hand.
    """

    provider: str
    instance_type: str
    devices_per_instance: int = Field(gt=0)
    quote: str
    url: str
    read_on: str = Field(pattern=r"^\d{4}(-\d{2}-\d{2})?$")
    via: str | None = None

    def describe(self) -> str:
        """One line for answers: provider, instance, date and page."""
        return f"{self.provider} {self.instance_type}, on-demand list price read {self.read_on} ({self.url})"


class LocalLaunchConfig(StrictEntry):
    """Run the harness as a subprocess on this machine."""

    type: Literal["local"]
    host: str = "localhost"
    threads: int | None = Field(default=None, gt=0)
    #: Interpreter of the environment that runs the harness (default: the orchestrator's own);
    #: lets e.g. a vLLM environment with its own torch run beside the orchestrator.
    python: str | None = None
    #: Longest the job may run before its process group is killed (None = computed from the
    #: spec: ``inference_estimation.launchers.local.job_timeout_s``); dstack's entry names it alike.
    timeout_s: int | None = Field(default=None, gt=0)


class DstackLaunchConfig(StrictEntry):
    """Run the harness as a dstack task on a cloud or on-prem machine (see ``launchers/dstack.py``).

    Attributes:
        resources: dstack's ``resources`` spec; its ``gpu`` names exactly one device type and
            a count equal to the entry's ``device_count`` (the renderer checks this).
        max_price_per_hour_usd: cap on the instance's hourly price (dstack's ``max_price``).
        backends: dstack backends to consider (default: every backend of the project).
        timeout_s: longest the job may run once started (dstack's ``max_duration``).
        image: container image; null = dstack's default CUDA image with ``python`` (AMD needs a
            ROCm image, and a task with an image is checked against its registry at plan time).
        spot_policy: ``on-demand`` by default: an interrupted spot instance loses the run.
        provisioning_timeout_s: longest wait for an instance before the launch is given up.
        max_retries: Dagster retries of a partition after a TRANSIENT dstack failure only
            (spot interruption, unreachable instance, provisioning error after an offer was taken).
        retry_backoff_s: first retry delay; doubled for each further retry.
    """

    type: Literal["dstack"]
    resources: dict[str, Any]
    max_price_per_hour_usd: float | None = Field(default=None, gt=0)
    backends: list[str] | None = None
    timeout_s: int = Field(default=3600, gt=0)
    image: str | None = None
    spot_policy: Literal["on-demand", "spot", "auto"] = "on-demand"
    provisioning_timeout_s: int = Field(default=1800, gt=0)
    max_retries: int = Field(default=2, ge=0)
    retry_backoff_s: float = Field(default=60.0, ge=0)


class HardwareEntry(StrictEntry):
    """One hardware target: ONE device type and a count."""

    key: str
    #: cpu; cuda (NVIDIA); rocm (AMD Instinct/Radeon); xpu (Intel GPUs); hpu (Intel Gaudi);
    #: rdu (SambaNova); mps (Apple-silicon GPUs, unified memory); tpu (Google Cloud TPU chips,
    #: predict-only: no harness runs on them); tt (Tenstorrent Tensix cards run by tt-metal,
    #: predict-only).
    kind: Literal["cpu", "cuda", "rocm", "xpu", "hpu", "rdu", "mps", "tpu", "tt"]
    vendor: str
    device_name: str | None = None
    #: The architecture generation (``ampere``, ``hopper``, ``cdna3``, ``gaudi2``, ...): a key of
    #: ``catalog/rules/generations.yaml``, which says the dtypes it has tensor math for. Null = not stated
    #: (an overlay may omit it; its peak facts alone then decide what it runs).
    generation: str | None = None
    device_count: int = Field(default=1, gt=0)
    aliases: list[str] = Field(default_factory=list)
    specs: HardwareSpecs = Field(default_factory=HardwareSpecs)
    spec_source: Literal[SPEC_SOURCES]  # type: ignore[valid-type]
    spec_source_overrides: dict[str, Literal[SPEC_SOURCES]] = Field(default_factory=dict)  # type: ignore[valid-type]
    spec_reference: str | None = None
    #: Where ``specs.price_per_hour_usd`` comes from (provider, instance, page, date read).
    price_source: PriceSource | None = None
    launcher: LocalLaunchConfig | DstackLaunchConfig | None = Field(default=None, discriminator="type")

    _key = field_validator("key")(classmethod(lambda cls, v: check_key(v)))

    @field_validator("generation")
    @classmethod
    def _known_generation(cls, value: str | None) -> str | None:
        if value is not None and value not in generations():
            raise ValueError(f"generation {value!r} is not in catalog/rules/generations.yaml; use one of "
                             f"{', '.join(generations())}")
        return value

    @model_validator(mode="after")
    def _overrides_name_facts(self) -> HardwareEntry:
        unknown = set(self.spec_source_overrides) - set(HardwareSpecs.model_fields)
        if unknown:
            raise ValueError(f"spec_source_overrides names unknown spec facts: {sorted(unknown)}")
        if self.price_source is not None and self.specs.price_per_hour_usd is None:
            raise ValueError("price_source without specs.price_per_hour_usd")
        return self

    def source_of(self, fact: str) -> str:
        """Where a spec fact came from."""
        return self.spec_source_overrides.get(fact, self.spec_source)

    @property
    def generation_facts(self) -> Generation | None:
        """The entry's row of the generation table, or None when it names no generation."""
        return generations()[self.generation] if self.generation else None

    @property
    def benchmarkable(self) -> bool:
        """Whether this entry can be launched (it names a launcher)."""
        return self.launcher is not None

    @property
    def host(self) -> str:
        """The run-concurrency key: runs on the same host never overlap."""
        if isinstance(self.launcher, LocalLaunchConfig):
            return self.launcher.host
        return f"dstack:{self.key}"


    def devices(self, count: int) -> str:
        """``count`` devices of this entry, said so they cannot be misread: ``8 x nvidia-h200-sxm-141gb``;
        for an entry of several devices (a node: specs per device), ``2 nodes of 8 x <key>`` (16 devices)."""
        return devices_label(self.key, self.device_count, count)


def devices_label(key: str, per_entry: int, count: int) -> str:
    """:meth:`HardwareEntry.devices` from the key and the devices of one entry."""
    if per_entry <= 1:
        return f"{count} x {key}"
    nodes = count / per_entry
    if float(nodes).is_integer():
        return f"{int(nodes)} node{'s' * (nodes != 1)} of {per_entry} x {key} ({count} devices)"
    return f"{count} devices of {key} (nodes of {per_entry})"
