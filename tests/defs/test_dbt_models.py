"""The dbt project's shape: one record definition, one YAML per model with its grain, one-way flow.

These read the project's files (no warehouse, no manifest), so a drift between dbt and the
measurement record or the catalog fails here, naming the file, before any build.
"""

import re
import typing
from pathlib import Path

import pytest
import yaml

from benchmark_jobs import schema
from inference_estimation.lib.catalog import SPEC_SOURCES, HardwareEntry, ModelEntry

DBT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
MODELS_DIR = DBT_DIR / "models"
RECORD_MACRO = DBT_DIR / "macros" / "measurement_record.sql"
#: The DuckDB type the landing gives each record type (inference_estimation/lib/data/warehouse.py).
DUCK_TYPES = {"string": "varchar", "int64": "bigint", "float64": "double", "bool": "boolean"}
LAYERS = ("staging", "intermediate", "marts")
#: The layers a model of each layer may read (besides sources, which only staging reads).
READS = {"staging": set(), "intermediate": {"staging", "intermediate"}, "marts": {"intermediate"}}


def _model_files() -> dict[str, Path]:
    """Model name -> its SQL or Python file."""
    files = [p for layer in LAYERS for p in (MODELS_DIR / layer).iterdir() if p.suffix in (".sql", ".py")]
    return {p.stem: p for p in files}


def _model_yaml(name: str) -> dict:
    """The single entry of ``<name>.yml`` beside the model's file."""
    path = _model_files()[name].with_suffix(".yml")
    assert path.exists(), f"{path}: missing; every model has its own YAML (grain, tests, docs)"
    entries = yaml.safe_load(path.read_text())["models"]
    assert [e["name"] for e in entries] == [name], f"{path}: holds {[e['name'] for e in entries]}, not only {name}"
    return entries[0]


def _column_tests(name: str) -> dict[str, list]:
    """Column -> its data tests, for one model."""
    return {c["name"]: c.get("data_tests", []) for c in _model_yaml(name).get("columns", [])}


def _accepted_values(name: str, column: str) -> list[str]:
    for test in _column_tests(name).get(column, []):
        if isinstance(test, dict) and "accepted_values" in test:
            return test["accepted_values"]["arguments"]["values"]
    raise AssertionError(f"{name}.yml: column '{column}' has no accepted_values test")


def test_the_staging_macro_types_every_record_field_in_the_records_order():
    listed = re.findall(r"\['(\w+)', '(\w+)'\]", RECORD_MACRO.read_text())
    expected = [(name, DUCK_TYPES[kind]) for name, kind in schema.arrow_type_names().items()]
    paste = "\n".join(f"        ['{n}', '{t}']," for n, t in expected)
    assert listed == expected, (f"{RECORD_MACRO}: measurement_record_columns() differs from "
                                f"benchmark_jobs.schema.MeasurementRecord; the list should read:\n{paste}")
    for model in ("stg_benchmark_runs", "stg_external_runs"):
        sql = _model_files()[model].read_text()
        assert "stage_measurement_records(" in sql and "cast(" not in sql, f"{model}: types through the macro only"


@pytest.mark.parametrize("model", ["stg_benchmark_runs", "stg_external_runs"])
def test_our_sweeps_and_public_rows_accept_exactly_the_records_enumerations(model):
    assert _accepted_values(model, "status") == list(schema.STATUSES)
    assert _accepted_values(model, "mode") == list(schema.MODES)
    assert _accepted_values(model, "power_source") == list(schema.POWER_SOURCES)
    assert _accepted_values(model, "power_scope") == list(schema.POWER_SCOPES)
    assert _accepted_values(model, "throughput_scope") == list(schema.THROUGHPUT_SCOPES)
    assert _accepted_values(model, "latency_statistic") == list(schema.LATENCY_STATISTICS)
    for column in ("status", "mode", "power_source"):
        assert "not_null" in _column_tests(model)[column], f"{model}.{column}"


def test_catalog_facts_accept_exactly_the_catalogs_enumerations():
    def literal(entry, field):
        return list(typing.get_args(entry.model_fields[field].annotation))

    assert _accepted_values("stg_models", "model_kind") == literal(ModelEntry, "kind")
    assert _accepted_values("stg_hardware", "hardware_kind") == literal(HardwareEntry, "kind")
    assert _accepted_values("stg_hardware", "spec_source") == list(SPEC_SOURCES)


def test_every_model_has_its_own_yaml_stating_its_grain_and_testing_its_key():
    models = _model_files()
    assert {"int_latest_points", "measurements", "training_features"} <= set(models)
    for name in models:
        entry = _model_yaml(name)
        assert "one row per" in entry.get("description", "").lower(), f"{name}.yml: the description states no grain"
        keys = [c for c, tests in _column_tests(name).items() if {"unique", "not_null"} <= set(map(str, tests))]
        assert keys, f"{name}.yml: no grain key tested unique and not_null"
        for column in entry["columns"]:
            assert column.get("description"), f"{name}.yml: column '{column['name']}' has no description"


def test_the_flow_runs_staging_to_intermediate_to_marts_only():
    models = _model_files()
    layer_of = {name: path.parent.name for name, path in models.items()}
    for name, path in models.items():
        text = path.read_text()
        refs = set(re.findall(r"""ref\(\s*['"](\w+)['"]\s*\)""", text))
        reads_source = "source(" in text
        layer = layer_of[name]
        assert {layer_of[r] for r in refs} <= READS[layer], f"{path}: a {layer} model reads {sorted(refs)}"
        assert reads_source == (layer == "staging"), f"{path}: staging, and only staging, reads the raw sources"
    assert re.findall(r"ref\('(\w+)'\)", models["measurements"].read_text()) == ["int_latest_points"]
    assert "ref('int_latest_points')" in models["int_training_rows"].read_text()

