"""The catalog under operations: a malformed overlay fails loudly and harmlessly, and a catalog that
grows brings its partitions, schedule and sensor requests without any code change.
"""

import json
import os
import subprocess
import sys

import dagster as dg
import pytest

from inference_estimation.lib.catalog import CatalogError, load_catalog
from inference_estimation.lib.home import HOME_ENV

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: Loads the code location in a fresh process (as `dagster dev` does on reload) and describes it.
DESCRIBE_LOCATION = """
import datetime
import json
import dagster as dg
from inference_estimation.definitions import defs
from inference_estimation.defs.benchmark_requests import sweep_from_run_config
from inference_estimation.defs.partitions import benchmark_partition_keys
from inference_estimation.defs.benchmarks.sensors import new_partitions_sensor
from inference_estimation.defs.resources import CatalogResource
with dg.instance_for_test() as instance:
    result = new_partitions_sensor(dg.build_sensor_context(instance=instance, resources={"catalog": CatalogResource()}))
    for add in result.dynamic_partitions_requests:  # what the daemon does with the sensor's result
        instance.add_dynamic_partitions(add.partitions_def_name, list(add.partition_keys))
    partitions = sorted(str(k) for k in benchmark_partition_keys(instance))
    schedule = defs.resolve_schedule_def("sweep_ops_grow_weekly")
    ticks = schedule.evaluate_tick(dg.build_schedule_context(
        instance=instance, resources={"catalog": CatalogResource()}, repository_def=defs.get_repository_def(),
        scheduled_execution_time=datetime.datetime(2026, 1, 4, 3)))
print(json.dumps({
    "partitions": partitions,
    "sensor_requests": {str(r.partition_key): [sweep_from_run_config(r.run_config),
                                               r.tags["inference_estimation/host"]] for r in result.run_requests},
    "schedule_requests": sorted(str(r.partition_key) for r in ticks.run_requests),
    "schedule_status": str(schedule.default_status),
}))
"""

#: The rest of a tiny Llama-architecture model entry (random weights build in a second).
_TINY_LLAMA = """\
    family: llama
    default_dtype: float32
    architecture: {layers: 2, hidden_size: 64, heads: 4, kv_heads: 2, intermediate_size: 128, vocab_size: 1000,
                   max_position_embeddings: 256}
"""

NEW_ENTRIES = "models:\n  - key: ops-new-llama\n" + _TINY_LLAMA + """\
hardware:
  - key: second-box-cpu
    kind: cpu
    vendor: host
    spec_source: user
    specs: {memory_gb: 16}
    launcher: {type: local, host: second-box}
sweeps:
  - name: ops-grow
    models: [ops-new-llama, gpt2-small]
    hardware: [local-cpu, second-box-cpu]
    batch_sizes: [1]
    input_tokens: [8]
    output_tokens: [4]
"""


def _run(code_or_args, home, timeout=300):
    env = {**os.environ, HOME_ENV: str(home), "DAGSTER_HOME": str(home / "dagster")}
    args = [sys.executable, "-c", code_or_args] if isinstance(code_or_args, str) else [sys.executable, *code_or_args]
    return subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


#: Loads the code location with an invalid overlay beside a valid one and describes what it sees.
DESCRIBE_LENIENT = """
import json
import dagster as dg
from inference_estimation.definitions import defs
from inference_estimation.defs.benchmarks.sensors import catalog_partitions_sensor
from inference_estimation.defs.resources import CatalogResource
with dg.instance_for_test() as instance:
    result = catalog_partitions_sensor(dg.build_sensor_context(instance=instance, resources={"catalog": CatalogResource()}))
print(json.dumps({
    "adds": {a.partitions_def_name: list(a.partition_keys) for a in result.dynamic_partitions_requests},
    "good_sweep_schedule": defs.resolve_schedule_def("sweep_ops_good_weekly").name,
    "assets": len(list(defs.resolve_all_asset_specs())),
}))
"""

GOOD_OVERLAY = "models:\n  - key: ops-good-llama\n" + _TINY_LLAMA + """\
sweeps:
  - {name: ops-good, models: [ops-good-llama], hardware: [local-cpu], batch_sizes: [1], input_tokens: [8],
     output_tokens: [4]}
"""


def test_a_malformed_overlay_names_file_and_field_breaks_nothing_else_and_removing_it_restores(isolated_home):
    overlay = isolated_home.catalog_dir / "broken.yaml"
    overlay.write_text("models:\n  - key: gpt2-small\n    architecture: {layers: many}\n")
    (isolated_home.catalog_dir / "good.yaml").write_text(GOOD_OVERLAY)  # a user's valid file beside it
    expected = "broken.yaml: models[0] (key='gpt2-small').architecture.layers: Input should be a valid integer"

    # Validation (and the main job) refuse it, naming file and field.
    with pytest.raises(CatalogError) as error:
        load_catalog()
    assert str(overlay) in str(error.value) and expected in str(error.value)
    cli = _run(["-m", "inference_estimation.cli", "catalog"], isolated_home.root)
    assert cli.returncode == 2 and expected in cli.stderr and "Traceback" not in cli.stderr
    sweep = _run(["-m", "inference_estimation.cli", "sweep", "--no-external"], isolated_home.root)
    assert sweep.returncode == 2 and expected in sweep.stderr and "Traceback" not in sweep.stderr
    # Everything else keeps working: the broken file is left out whole (gpt2-small keeps its package
    # facts), the valid overlay still counts, and the code location loads with a warning naming it.
    lenient = load_catalog(strict=False)
    assert len(lenient.skipped_overlays) == 1 and expected in lenient.skipped_overlays[0]
    assert lenient.model("gpt2-small").architecture.layers == load_catalog(overlay_dirs=[]).model(
        "gpt2-small").architecture.layers
    assert "ops-good" in lenient.sweeps
    location = _run(DESCRIBE_LENIENT, isolated_home.root)
    assert location.returncode == 0, location.stderr[-3000:]
    assert expected in location.stderr  # the load warning
    described = json.loads(location.stdout.strip().splitlines()[-1])
    assert "ops-good-llama" in described["adds"]["benchmark_models"]  # the valid overlay syncs its partitions
    assert described["good_sweep_schedule"] == "sweep_ops_good_weekly" and described["assets"] > 10
    assert not list(isolated_home.parquet_dir.rglob("*")) and not isolated_home.warehouse_path.exists()  # wrote nothing

    # Catalog-wide writers refuse while it is broken (a partial catalog would drop the file's
    # entries from raw.models / an import for good); the error names the file and field.
    from dagster_duckdb import DuckDBResource

    from inference_estimation.defs.catalog.assets import model_specs
    from inference_estimation.defs.resources import CatalogResource

    result = dg.materialize([model_specs], resources={"duckdb": DuckDBResource(
        database=str(isolated_home.warehouse_path)), "catalog": CatalogResource()}, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error.message
    assert "landing model facts refused" in failure and expected in failure
    assert not isolated_home.warehouse_path.exists()  # nothing written, the last good tables stay

    overlay.write_bytes(b"\xff\xfe models")  # not even text
    with pytest.raises(CatalogError, match=r"broken.yaml: cannot be read as UTF-8"):
        load_catalog()
    assert "cannot be read as UTF-8" in load_catalog(strict=False).skipped_overlays[0]

    overlay.write_text("models: [\n")  # not YAML at all
    with pytest.raises(CatalogError, match=r"broken.yaml: not valid YAML"):
        load_catalog()
    assert "not valid YAML" in load_catalog(strict=False).skipped_overlays[0]

    overlay.unlink()
    assert "gpt2-small" in load_catalog().models and not load_catalog(strict=False).skipped_overlays
    assert _run(["-m", "inference_estimation.cli", "catalog"], isolated_home.root).returncode == 0


def test_after_a_reload_a_grown_catalog_has_its_partitions_a_schedule_for_the_new_sweep_and_sensor_requests(
        isolated_home):
    before = load_catalog()
    (isolated_home.catalog_dir / "grow.yaml").write_text(NEW_ENTRIES)

    out = _run(DESCRIBE_LOCATION, isolated_home.root)

    assert out.returncode == 0, out.stderr[-3000:]
    described = json.loads(out.stdout.strip().splitlines()[-1])
    expected_models = sorted({*before.partition_models, "ops-new-llama"})
    expected_hardware = sorted({*before.partition_hardware, "second-box-cpu"})
    assert len(described["partitions"]) == len(expected_models) * len(expected_hardware)
    assert "local-cpu|ops-new-llama" in described["partitions"]
    assert "second-box-cpu|gpt2-small" in described["partitions"]
    # The new sweep has a (stopped) weekly schedule covering exactly its pairs.
    assert described["schedule_requests"] == sorted(
        f"{h}|{m}" for h in ("local-cpu", "second-box-cpu") for m in ("gpt2-small", "ops-new-llama"))
    assert described["schedule_status"].endswith("STOPPED")
    # The sensor asks for every never-measured covered pair, each with its host's tag; local-demo wins
    # where it covers the pair, the new sweep elsewhere.
    requests = described["sensor_requests"]
    assert requests["local-cpu|ops-new-llama"] == ["ops-grow", "localhost"]
    assert requests["second-box-cpu|ops-new-llama"] == ["ops-grow", "second-box"]
    assert requests["local-cpu|gpt2-small"] == ["local-demo", "localhost"]


def test_partitions_follow_the_catalog_without_a_reload_and_a_new_pair_materializes(isolated_home):
    """The code location stays loaded (as under `dagster dev` for weeks) while the YAML grows."""
    from inference_estimation.definitions import defs
    from inference_estimation.defs.benchmarks.sensors import catalog_partitions_sensor, new_partitions_sensor
    from inference_estimation.defs.jobs import host_tags_for_partition
    from inference_estimation.defs.partitions import (
        HARDWARE_PARTITIONS,
        MODEL_PARTITIONS,
        benchmark_partition_keys,
    )
    from inference_estimation.defs.resources import CatalogResource
    from tests.ops.conftest import materialize_partition, metadata

    def tick(sensor, instance):
        with dg.build_sensor_context(instance=instance, definitions=defs,
                                     resources={"catalog": CatalogResource()}) as context:
            result = sensor(context)
        if isinstance(result, dg.SensorResult):
            for add in result.dynamic_partitions_requests or []:  # applied as the daemon applies them
                instance.add_dynamic_partitions(add.partitions_def_name, list(add.partition_keys))
        return result

    assert catalog_partitions_sensor.default_status == dg.DefaultSensorStatus.RUNNING  # it launches nothing
    with dg.instance_for_test() as instance:
        first = tick(catalog_partitions_sensor, instance)
        assert isinstance(first, dg.SensorResult)
        assert isinstance(tick(catalog_partitions_sensor, instance), dg.SkipReason)  # in step now
        before = {str(k) for k in benchmark_partition_keys(instance)}
        assert "local-cpu|gpt2-small" in before and not any("ops-new-llama" in k for k in before)

        (isolated_home.catalog_dir / "grow.yaml").write_text(NEW_ENTRIES)
        grown = tick(catalog_partitions_sensor, instance)
        added = {a.partitions_def_name: list(a.partition_keys) for a in grown.dynamic_partitions_requests}
        assert added == {MODEL_PARTITIONS: ["ops-new-llama"], HARDWARE_PARTITIONS: ["second-box-cpu"]}
        after = {str(k) for k in benchmark_partition_keys(instance)}
        assert {"local-cpu|ops-new-llama", "second-box-cpu|gpt2-small"} <= after - before
        assert host_tags_for_partition("second-box-cpu|ops-new-llama") == {"inference_estimation/host": "second-box"}
        # a kept key of hardware gone from the catalog gets a tag of its own (the asset refuses the pair)
        assert host_tags_for_partition("gone-box|gpt2-small") == {"inference_estimation/host": "unknown:gone-box"}

        requests = tick(new_partitions_sensor, instance).run_requests
        assert "local-cpu|ops-new-llama" in {str(r.partition_key) for r in requests}
        result = materialize_partition(isolated_home, "ops-new-llama", sweep="ops-grow", instance=instance)
        assert result.success and metadata(result)["rows_landed"] == 1  # 1 x 1 x 1 point
        assert "local-cpu|ops-new-llama" in {str(k) for k in instance.get_materialized_partitions(
            dg.AssetKey("benchmark_runs"))}
        requests = tick(new_partitions_sensor, instance).run_requests
        assert "local-cpu|ops-new-llama" not in {str(r.partition_key) for r in requests}  # measured now

        (isolated_home.catalog_dir / "grow.yaml").unlink()  # shrinking keeps the keys (their history)
        assert isinstance(tick(catalog_partitions_sensor, instance), dg.SkipReason)
        assert "local-cpu|ops-new-llama" in {str(k) for k in benchmark_partition_keys(instance)}
