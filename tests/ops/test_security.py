"""Security: secrets only through EnvVar and never in logs or metadata, the UI on loopback, no
pickle on load paths, SQL identifiers validated and values passed as parameters."""

import ast
import hashlib
import pickle
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from catboost import CatBoostError
from dagster_duckdb import DuckDBResource

from inference_estimation import cli
from inference_estimation.cli import ui as cli_ui
from inference_estimation.defs.resources import HarnessSecrets, PipesMessageStore, harness_secrets_from_env
from inference_estimation.lib.catalog import CatalogError, load_catalog
from inference_estimation.lib.data import quality, warehouse
from inference_estimation.lib.home import REPO_ROOT
from inference_estimation.lib.ml.modeling import load_predictor
from tests.ops.conftest import launcher_overlay, materialize_partition, metadata, sweep_overlay
from tests.ops.standins import harness_interpreter

CANARY = "hf_CANARY_3c1f0e6b9a7d4e21b5f8_do_not_log"


def _text_of(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def test_a_canary_secret_reaches_the_harness_through_envvar_and_appears_in_no_log_metadata_or_file(
        isolated_home, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("IE_OPS_CANARY_TOKEN", CANARY)
    (isolated_home.catalog_dir / "ops.yaml").write_text(
        sweep_overlay() + launcher_overlay(harness_interpreter(tmp_path, "SyntheticBackend")))
    instance_dir = tmp_path / "instance"
    instance_dir.mkdir()
    with dg.DagsterInstance.local_temp(str(instance_dir)) as instance:
        result = materialize_partition(isolated_home, "gpt2-small", instance=instance, resources={
            "harness_secrets": HarnessSecrets(hf_token=dg.EnvVar("IE_OPS_CANARY_TOKEN")),
            "pipes_message_store": PipesMessageStore()})
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        records = instance.all_logs(result.run_id)
        logged = "\n".join(dg.serialize_value(r) for r in records) + dg.serialize_value(run)
    captured = capfd.readouterr()
    # It arrived: the stand-in harness printed the token's digest (never the token).
    assert "HF_TOKEN sha256 " + hashlib.sha256(CANARY.encode()).hexdigest() in captured.err + logged
    # And it leaked nowhere: event log (every message and all metadata), run record and config,
    # compute logs and every file the run wrote (instance storage, parquet, warehouse).
    assert CANARY not in logged
    assert CANARY not in str(metadata(result))
    assert CANARY not in captured.out + captured.err
    files = [p for root in (instance_dir, isolated_home.root) for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files) and any("storage" in p.parts for p in files)
    leaked = [str(p) for p in files if CANARY in _text_of(p)]
    assert leaked == []


def test_the_secret_resource_is_bound_to_an_envvar_not_to_a_value(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", CANARY)
    resource = harness_secrets_from_env()
    assert isinstance(resource.hf_token, dg.EnvVar) and resource.hf_token.env_var_name == "HF_TOKEN"
    assert CANARY not in repr(resource)
    monkeypatch.delenv("HF_TOKEN")
    assert harness_secrets_from_env().harness_env() == {}


def test_the_ui_binds_to_loopback_unless_told_otherwise(monkeypatch):
    assert cli.build_parser().parse_args(["ui"]).host == "127.0.0.1"
    assert cli.build_parser().parse_args(["ui", "--host", "0.0.0.0"]).host == "0.0.0.0"
    launched = {}
    # `ui` runs `dagster dev` as a child process tree; capture the command instead of starting it
    monkeypatch.setattr(cli_ui, "run_process_tree", lambda command, cwd=None: launched.update(args=command) or 0)
    cli.main(["ui", "--port", "3999"])
    args = launched["args"]
    assert args[args.index("-h") + 1] == "127.0.0.1" and args[args.index("-p") + 1] == "3999"


#: Modules that read state back from disk (model files, run files, catalog, reports): every module of
#: ``lib/`` and of the command line, and the harness's spec and record. A folder stands for every module
#: in it.
LOAD_PATHS = ["inference_estimation/lib/", "inference_estimation/cli/", "benchmark_jobs/spec.py",
              "benchmark_jobs/schema.py"]
UNSAFE_CALLS = {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "marshal", "shelve"}


def _load_path_modules() -> list[str]:
    modules = []
    for rel in LOAD_PATHS:
        path = REPO_ROOT / rel
        modules += sorted(str(p.relative_to(REPO_ROOT)) for p in path.rglob("*.py")) if path.is_dir() else [rel]
    return modules


def test_the_load_paths_name_existing_modules():
    modules = _load_path_modules()
    assert "inference_estimation/cli/predict.py" in modules and "inference_estimation/lib/catalog/loading.py" in modules
    assert len(modules) > 50  # the whole of lib/ and cli/
    assert all((REPO_ROOT / rel).is_file() for rel in modules), [m for m in modules if not (REPO_ROOT / m).is_file()]


def test_no_load_path_imports_pickle_or_calls_an_unsafe_loader():
    for rel in _load_path_modules():
        tree = ast.parse((REPO_ROOT / rel).read_text(), rel)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = {a.name.split(".")[0] for a in node.names} | {(getattr(node, "module", "") or "").split(".")[0]}
                assert not names & UNSAFE_CALLS, f"{rel}:{node.lineno} imports {names & UNSAFE_CALLS}"
            if isinstance(node, ast.Attribute) and node.attr in ("read_pickle", "load_model_pickle"):
                pytest.fail(f"{rel}:{node.lineno} calls {node.attr}")
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "load":
                for kw in node.keywords:
                    assert not (kw.arg == "allow_pickle" and getattr(kw.value, "value", False)), rel
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("eval", "exec"):
                pytest.fail(f"{rel}:{node.lineno} calls {node.func.id}")


class _Payload:
    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_predictor_files_load_only_in_catboost_format_so_a_pickle_never_executes(pipeline, session_home, tmp_path):
    folder = next(p.parent for p in session_home.predictors_dir.rglob("model.cbm"))
    assert (folder / "model.cbm").read_bytes()[:4] == b"CBM1"  # CatBoost's own format
    model, card = load_predictor(folder)
    assert card["target"] and model.tree_count_ > 0
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "card.json").write_text((folder / "card.json").read_text())
    payload = _Payload()
    payload.marker = str(tmp_path / "pwned")
    (evil / "model.cbm").write_bytes(pickle.dumps(payload))
    with pytest.raises(CatBoostError):
        load_predictor(evil)
    assert not (tmp_path / "pwned").exists()


def test_sql_identifiers_are_validated_and_values_travel_as_parameters(tmp_path, isolated_home):
    for bad in ("hardware; drop table raw.benchmark_runs", "Models", "x--"):
        with pytest.raises(warehouse.WarehouseError, match="refusing SQL identifier"):
            warehouse._ident(bad)
    with pytest.raises(warehouse.WarehouseError, match="unknown run table"):
        warehouse.land_run(duckdb.connect(), tmp_path / "x.parquet", table="benchmark_runs; drop schema raw")
    with pytest.raises(warehouse.WarehouseError, match="unsafe path component"):
        warehouse.run_parquet_path(tmp_path, "local", "r'; drop table raw.benchmark_runs; --")
    for relation in ("raw.benchmark_runs; drop schema raw", "raw.x y", "RAW.t"):
        with pytest.raises(ValueError, match="refusing SQL relation"):
            quality.range_results(duckdb.connect(), relation, {})
    with pytest.raises(ValueError, match="unsafe run id prefix"):
        quality.run_prefix_scope(duckdb.connect(), "raw.benchmark_runs", "x'; drop table t; --")
    # Catalog keys become partition keys and SQL values: only slugs are accepted.
    (isolated_home.catalog_dir / "evil.yaml").write_text(
        "models:\n  - key: \"gpt2'; drop table raw.models; --\"\n    family: gpt2\n    kind: tabular\n")
    with pytest.raises(CatalogError, match="evil.yaml: models\\[0\\].*lower-case slug"):
        load_catalog()
    (isolated_home.catalog_dir / "evil.yaml").unlink()
    # Values with quotes land verbatim (parameters, never string-built SQL).
    (isolated_home.catalog_dir / "ops.yaml").write_text(
        sweep_overlay() + launcher_overlay(harness_interpreter(tmp_path, "SyntheticBackend")))
    landed = metadata(materialize_partition(isolated_home, "gpt2-small"))
    records = warehouse.read_run_parquet(Path(landed["parquet_path"]))
    quoted = [r.__class__.from_dict({**r.to_dict(), "run_id": "quoted-run", "device_name": "it's; drop table x; --"})
              for r in records]
    path = warehouse.write_run_parquet(quoted, warehouse.run_parquet_path(tmp_path, "local", "quoted-run"))
    with DuckDBResource(database=str(isolated_home.warehouse_path)).get_connection() as con:
        assert warehouse.land_run(con, path) == len(records)
        assert con.execute("select distinct device_name from raw.benchmark_runs where run_id = 'quoted-run'"
                           ).fetchall() == [("it's; drop table x; --",)]
