"""A catalog fact is declared once, in the pydantic catalog model; every list of it is tied to that here."""

import re
from pathlib import Path

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.catalog.hardware import HardwareSpecs
from inference_estimation.lib.catalog.models import Architecture
from inference_estimation.lib.physics.features import (
    HARDWARE_FACT_COLUMNS,
    MODEL_FACT_COLUMNS,
    hardware_facts,
    model_facts,
)

MODELS = Path(__file__).resolve().parents[2] / "dbt_project" / "models"
#: Architecture fields that only feed derived facts (params, head_dim, the KV cache, context refusals),
#: never a column of their own. A new architecture field must land in one list or the other.
DERIVE_ONLY = {"max_position_embeddings", "moe_intermediate_size", "shared_experts", "dense_layers",
               "tie_word_embeddings"}


def selected_columns(sql: str) -> list[str]:
    """The output column names of a one-level ``select ... from`` (``x``, ``t.x``, ``cast(... as t) as x``)."""
    body = re.sub(r"--[^\n]*", "", sql)
    body = body[body.index("select") + len("select"):body.index("\nfrom")]
    columns, depth, current = [], 0, ""
    for char in body + ",":
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            columns.append(re.split(r"\s+as\s+|\.", current.strip())[-1].strip())
            current = ""
        else:
            current += char
    return columns


def test_selected_columns_reads_casts_aliases_and_qualified_names():
    sql = "-- c\nselect a, cast(b as double) as b_s, t.c, (x and y) as d\nfrom t"
    assert selected_columns(sql) == ["a", "b_s", "c", "d"]


def test_hardware_fact_columns_are_the_pydantic_spec_numbers_and_each_fact_row_has_them():
    numbers = [n for n, f in HardwareSpecs.model_fields.items() if f.annotation != str | None]
    assert HARDWARE_FACT_COLUMNS[4:-1] == numbers
    catalog = load_catalog(overlay_dirs=[])
    assert all(list(hardware_facts(hw)) == HARDWARE_FACT_COLUMNS for hw in catalog.hardware.values())


def test_every_architecture_field_is_a_model_fact_column_or_feeds_one():
    assert set(Architecture.model_fields) - DERIVE_ONLY <= set(MODEL_FACT_COLUMNS)
    assert DERIVE_ONLY <= set(Architecture.model_fields)
    catalog = load_catalog(overlay_dirs=[])
    assert all(list(model_facts(m)) == MODEL_FACT_COLUMNS for m in catalog.models.values())


def test_dbt_staging_selects_exactly_the_fact_columns_in_order():
    assert selected_columns((MODELS / "staging" / "stg_hardware.sql").read_text()) == HARDWARE_FACT_COLUMNS
    assert selected_columns((MODELS / "staging" / "stg_models.sql").read_text()) == MODEL_FACT_COLUMNS


def test_dbt_training_rows_join_every_model_and_hardware_fact():
    sql = (MODELS / "intermediate" / "int_training_rows.sql").read_text()
    model_facts_joined = re.findall(r"\bmo\.(\w+)", sql[:sql.index("\nfrom")])
    hardware_facts_joined = re.findall(r"\bh\.(\w+)", sql[:sql.index("\nfrom")])
    assert model_facts_joined == MODEL_FACT_COLUMNS[1:]  # model_key comes from the measurement
    assert hardware_facts_joined == HARDWARE_FACT_COLUMNS[1:]
