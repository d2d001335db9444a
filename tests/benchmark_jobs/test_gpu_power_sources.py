"""GPU power sources with stand-ins for NVML and amdsmi (no GPU here), and the sampler they share.

Every stand-in is named as such (``FakeNvml``, ``FakeAmdsmi``): these tests check our use of the
libraries' APIs and our arithmetic, not the libraries or the hardware.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from benchmark_jobs.trackers import EnergyTracker, SampledPowerSource, select_power_source
from benchmark_jobs.trackers.amd import amdsmi_power_source, energy_uj, socket_power_w
from benchmark_jobs.trackers.energy import measure_idle_power_w
from benchmark_jobs.trackers.nvml import NvmlEnergySource, nvml_power_source, visible_device_selectors


class FakeNVMLError(Exception):
    """Stands in for pynvml.NVMLError."""


class FakeNvml:
    """A stand-in for the pynvml module: devices with an energy counter (mJ) and a power (mW).

    The energy counter advances by ``power_mw`` x elapsed wall time, like the real one.
    """

    def __init__(self, n_devices=2, power_mw=(250_000, 100_000), energy_supported=True, init_error=None):
        self.n_devices = n_devices
        self.power_mw = list(power_mw)
        self.energy_supported = energy_supported
        self.init_error = init_error
        self.t0_s = time.perf_counter()
        self.calls: list[str] = []

    def nvmlInit(self):
        if self.init_error:
            raise self.init_error

    def nvmlDeviceGetHandleByIndex(self, index):
        if index >= self.n_devices:
            raise FakeNVMLError("invalid argument")
        return ("handle", index)

    def nvmlDeviceGetHandleByUUID(self, uuid):
        return ("handle", int(uuid.rsplit("-", 1)[1]))

    def nvmlDeviceGetName(self, handle):
        return b"NVIDIA H200"  # older bindings return bytes

    def nvmlSystemGetDriverVersion(self):
        return "570.86.15"

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        self.calls.append("energy")
        if not self.energy_supported:
            raise FakeNVMLError("Not Supported")
        return int(self.power_mw[handle[1]] * (time.perf_counter() - self.t0_s))  # mW x s = mJ

    def nvmlDeviceGetPowerUsage(self, handle):
        self.calls.append("power")
        return self.power_mw[handle[1]]


def test_nvml_tracker_with_fake_nvml_reads_the_total_energy_counter_of_the_device():
    nvml = FakeNvml()
    source = nvml_power_source("cuda:1", nvml=nvml, environ={})
    assert isinstance(source, NvmlEnergySource)
    assert (source.name, source.scope, source.device_count) == ("nvml-energy", "device", 1)
    assert (source.device_name, source.driver_version) == ("NVIDIA H200", "570.86.15")
    with EnergyTracker(source, "cpu") as tracker:
        time.sleep(0.05)
    assert tracker.avg_power_w == pytest.approx(100.0, rel=0.05)  # device 1 draws 100 W
    assert "power" not in nvml.calls  # the counter needs no sampling


def test_nvml_tracker_with_fake_nvml_samples_power_when_the_energy_counter_is_not_supported():
    nvml = FakeNvml(energy_supported=False)
    source = nvml_power_source("cuda", nvml=nvml, environ={})
    assert isinstance(source, SampledPowerSource)
    assert (source.name, source.scope, source.device_name) == ("nvml-power", "device", "NVIDIA H200")
    assert source.interval_s <= 0.1  # at least 10 Hz
    with EnergyTracker(source, "cpu") as tracker:
        time.sleep(0.15)
    # A constant 250 W integrates to 250 W whenever the samples were taken (the window ends are
    # read microseconds apart from the clock, hence not 1e-9).
    assert tracker.avg_power_w == pytest.approx(250.0, rel=1e-2)
    assert source.samples >= 2
    assert source._thread is None  # the sampler stops with the window


def test_nvml_with_fake_nvml_sums_tensor_parallel_devices_as_all_devices():
    source = nvml_power_source("cuda", device_count=2, nvml=FakeNvml(), environ={})
    assert (source.scope, source.device_count) == ("all-devices", 2)
    with EnergyTracker(source, "cpu") as tracker:
        time.sleep(0.05)
    assert tracker.avg_power_w == pytest.approx(350.0, rel=0.05)


def test_nvml_without_a_driver_or_device_gives_no_source_with_fake_nvml():
    assert nvml_power_source("cuda", nvml=FakeNvml(init_error=FakeNVMLError("Library Not Found")), environ={}) is None
    assert nvml_power_source("cuda:5", nvml=FakeNvml(), environ={}) is None
    assert nvml_power_source("cuda", nvml=FakeNvml(), environ={"CUDA_VISIBLE_DEVICES": ""}) is None


def test_cuda_visible_devices_maps_torch_indices_to_nvml_indices_or_uuids():
    assert visible_device_selectors("cuda", 1, {}) == [0]
    assert visible_device_selectors("cuda:1", 2, {}) == [1, 2]
    assert visible_device_selectors("cuda:0", 1, {"CUDA_VISIBLE_DEVICES": "3,1"}) == [3]
    assert visible_device_selectors("cuda:1", 1, {"CUDA_VISIBLE_DEVICES": "GPU-aaa-0, GPU-bbb-1"}) == ["GPU-bbb-1"]
    assert visible_device_selectors("cuda:2", 1, {"CUDA_VISIBLE_DEVICES": "0,1"}) == []


def test_the_real_pynvml_without_an_nvidia_driver_fails_soft():
    pytest.importorskip("pynvml")
    assert nvml_power_source("cuda") is None  # this machine has no NVIDIA driver
    assert select_power_source("cuda:0") is None  # nor amdsmi: a GPU run here reports none


class FakeAmdsmi:
    """A stand-in for the amdsmi module (energy accumulator in ticks, socket power in W)."""

    def __init__(self, energy_key="energy_accumulator", energy_supported=True):
        self.energy_key = energy_key
        self.energy_supported = energy_supported
        self.t0_s = time.perf_counter()

    def amdsmi_init(self):
        pass

    def amdsmi_get_processor_handles(self):
        return ["gpu0", "gpu1"]

    def amdsmi_get_energy_count(self, handle):
        if not self.energy_supported:
            raise RuntimeError("AMDSMI_STATUS_NOT_SUPPORTED")
        resolution_uj = 15.3
        joules = 500.0 * (time.perf_counter() - self.t0_s)  # 500 W
        return {self.energy_key: int(joules * 1e6 / resolution_uj), "counter_resolution": resolution_uj, "timestamp": 0}

    def amdsmi_get_power_info(self, handle):
        return {"socket_power": "N/A", "current_socket_power": 700, "average_socket_power": "N/A"}

    def amdsmi_get_gpu_asic_info(self, handle):
        return {"market_name": "AMD Instinct MI300X"}

    def amdsmi_get_gpu_driver_info(self, handle):
        return {"driver_version": "6.10.5"}


@pytest.mark.parametrize("energy_key", ["energy_accumulator", "power"], ids=["amdsmi-6.2+", "amdsmi-6.0"])
def test_amdsmi_tracker_with_fake_amdsmi_reads_ticks_times_the_counter_resolution(energy_key):
    source = amdsmi_power_source("cuda", amdsmi=FakeAmdsmi(energy_key), environ={})
    assert (source.name, source.scope, source.device_name, source.driver_version) == (
        "amdsmi",
        "device",
        "AMD Instinct MI300X",
        "6.10.5",
    )
    with EnergyTracker(source, "cpu") as tracker:
        time.sleep(0.05)
    assert tracker.avg_power_w == pytest.approx(500.0, rel=0.05)


def test_amdsmi_tracker_with_fake_amdsmi_samples_socket_power_without_an_energy_counter():
    source = amdsmi_power_source("cuda:1", amdsmi=FakeAmdsmi(energy_supported=False), environ={"HIP_VISIBLE_DEVICES": "0,1"})
    assert isinstance(source, SampledPowerSource) and source.name == "amdsmi"
    with EnergyTracker(source, "cpu") as tracker:
        time.sleep(0.05)
    assert tracker.avg_power_w == pytest.approx(700.0, rel=1e-2)  # "N/A" fields are skipped


def test_amdsmi_readings_in_either_key_spelling_and_na_power_fields():
    assert energy_uj({"power": 10, "counter_resolution": 15.3}) == pytest.approx(153.0)
    assert energy_uj({"energy_accumulator": 2, "counter_resolution": 1.0}) == 2.0
    assert socket_power_w({"socket_power": 412}) == 412.0
    with pytest.raises(KeyError):
        socket_power_w({"average_socket_power": "N/A"})


def test_sampled_power_integrates_a_changing_power_exactly_when_it_is_linear_in_time():
    t0_s = time.perf_counter()
    source = SampledPowerSource(lambda: 100.0 + 1000.0 * (time.perf_counter() - t0_s), name="nvml-power", scope="device")
    with EnergyTracker(source, "cpu") as tracker:
        time.sleep(0.12)
    start_s, end_s = tracker._start_s - t0_s, tracker._start_s - t0_s + tracker.elapsed_s
    expected_j = 100.0 * (end_s - start_s) + 500.0 * (end_s**2 - start_s**2)
    assert tracker.energy_j == pytest.approx(expected_j, rel=0.01)  # trapezoids are exact for lines


def test_idle_power_is_measured_with_a_sampled_sensor_over_its_window():
    source = SampledPowerSource(lambda: 75.0, name="nvml-power", scope="device")
    assert measure_idle_power_w(source, 0.1) == pytest.approx(75.0, rel=1e-2)


def test_a_sampler_whose_sensor_fails_mid_window_raises_instead_of_reporting_a_partial_energy():
    readings = iter([50.0, 50.0])

    def flaky_power_w() -> float:
        return next(readings)  # StopIteration once the sensor "disappears"

    source = SampledPowerSource(flaky_power_w, name="nvml-power", scope="device", sample_hz=100)
    with pytest.raises(RuntimeError, match="power sampling failed"):
        with EnergyTracker(source, "cpu"):
            time.sleep(0.1)
    assert source._thread is None


FAKE_AMDSMI = textwrap.dedent(
    """
    import os
    print("amdsmi: libamd_smi.so not found")           # Python-level stdout
    os.write(1, b"ROCm: driver not loaded\\n")           # C-level stdout (file descriptor 1)
    raise KeyError("ROCM_PATH")
    """
)


def _env_with_fake_amdsmi(tmp_path) -> dict[str, str]:
    (tmp_path / "amdsmi.py").write_text(FAKE_AMDSMI)
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def test_importing_an_amdsmi_that_prints_and_raises_keyerror_keeps_stdout_clean(tmp_path):
    code = (
        "import json\n"
        "from benchmark_jobs.trackers.amd import import_amdsmi\n"
        "module, why = import_amdsmi()\n"
        "print(json.dumps({'module': module is not None, 'why': why}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], env=_env_with_fake_amdsmi(tmp_path), capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(completed.stdout)  # one JSON document, nothing else on stdout
    assert result["module"] is False
    assert "KeyError" in result["why"] and "libamd_smi.so" in result["why"] and "driver not loaded" in result["why"]


def test_probe_command_keeps_its_stdout_valid_json_with_a_printing_fake_amdsmi_on_the_path(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "benchmark_jobs", "probe", "--seconds", "0.3"],
        env=_env_with_fake_amdsmi(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(completed.stdout)
    assert result["power_sources"]["gpu"] is None
    assert result["power_sources"]["cpu"]["power_source"] in ("rapl", "estimate")
