"""The target registry is the one home of a target: every list of targets elsewhere is read from it,
and the dbt training rows carry every target's measured column."""

from pathlib import Path

import numpy as np

from inference_estimation import constants
from inference_estimation.lib.ml.modeling import TARGET_OFFSETS
from inference_estimation.lib.physics import usability
from inference_estimation.lib.physics.features import FEATURE_COLUMNS
from inference_estimation.targets import REGISTRY, identity_texts
from tests.lib.test_catalog_fact_columns import selected_columns

TRAINING_ROWS = Path(__file__).resolve().parents[1] / "dbt_project/models/intermediate/int_training_rows.sql"


def test_every_target_is_a_column_the_dbt_training_rows_select():
    assert set(REGISTRY) <= set(selected_columns(TRAINING_ROWS.read_text()))


def test_the_training_partitions_are_the_learned_targets_each_with_a_physics_offset_and_workload_needs():
    assert constants.PRIMITIVES == tuple(n for n, t in REGISTRY.items() if t.learned)
    for name in constants.PRIMITIVES:
        assert REGISTRY[name].physics_offset is not None and REGISTRY[name].workload_needs is not None, name


def test_the_lists_of_targets_elsewhere_are_read_from_the_registry():
    assert set(TARGET_OFFSETS) <= set(REGISTRY) and set(usability.WORKLOAD_NEEDS) <= set(REGISTRY)
    assert usability.REPORT_TARGETS == tuple(REGISTRY)
    assert usability.POWER_TARGETS == tuple(n for n, t in REGISTRY.items() if t.power_basis)
    assert constants.TARGET_UNITS == {n: t.unit for n, t in REGISTRY.items()}
    assert all(t.short for t in REGISTRY.values()) and len({t.short for t in REGISTRY.values()}) == len(REGISTRY)


def test_every_physics_offset_names_feature_columns():
    for name, (numerators, denominators) in TARGET_OFFSETS.items():
        for entry in (*numerators, *denominators):
            parts = entry if isinstance(entry, tuple) else (entry,)
            assert set(parts) <= set(FEATURE_COLUMNS), name


def test_an_identity_is_code_and_its_text_is_generated_from_the_same_expression():
    texts = identity_texts()
    assert texts["e2e_latency_s"] == "ttft_s + (output_tokens - 1) * tpot_s"
    assert texts["energy_per_output_token_j"] == "avg_power_w / output_throughput_tok_s"
    values = {"ttft_s": np.array([0.5]), "tpot_s": np.array([0.1]), "output_tokens": np.array([11.0])}
    assert REGISTRY["e2e_latency_s"].identity["closed"](values) == np.array([1.5])


def test_the_label_columns_are_the_learned_targets_and_their_identities():
    # constants.TARGETS keeps its order (it is hashed into every data version); its members are the registry's.
    labels = {n for n, t in REGISTRY.items() if t.learned or t.producer == "identity"}
    assert set(constants.TARGETS) == labels and len(constants.TARGETS) == len(labels)
