"""Resources shared by every stage.

The home and the catalog, the DuckDB warehouse, the dbt CLI, the harness's secrets, the
optional object storage for Pipes messages, the predictor store and the training settings.
"""

import os
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from benchmark_jobs.spec import SERVING_API_KEY_ENV
from inference_estimation import constants
from inference_estimation.defs.transform.project import dbt_executable, dbt_project
from inference_estimation.lib.catalog import Catalog, load_catalog
from inference_estimation.lib.home import Home, get_home
from inference_estimation.lib.ml import predictor_store


class HomeResource(dg.ConfigurableResource):
    """Where a run keeps its state: ``INFERENCE_ESTIMATION_HOME``.

    It holds the parquet files, predictors, reports, catalog overlays and downloads.
    Its folders are created once, when a run (or a direct invocation) sets the resource up, not on
    every use.

    Attributes:
        root: the home folder; None (the default) reads ``$INFERENCE_ESTIMATION_HOME`` at run time,
            else ``~/.inference-estimation``.
    """

    root: str | None = None
    _home: Home | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Resolves the folder and creates its sub-folders (once per run)."""
        self._home = self._resolve().ensure()

    def _resolve(self) -> Home:
        return Home(Path(self.root).expanduser().resolve()) if self.root else get_home(create=False)

    def get(self) -> Home:
        """The home's paths (its folders exist)."""
        if self._home is None:  # used outside a run's set-up (e.g. a plain method call in a test)
            self._home = self._resolve().ensure()
        return self._home


class CatalogResource(dg.ConfigurableResource):
    """The model, hardware and sweep catalog: the package YAML plus the home's overlay files.

    Read afresh on each call, so a run sees the YAML as it is when the run starts (a model added to
    a sweep, a probe's overlay) without reloading the code location. An overlay file that is
    invalid is left out whole, its error (file and field) kept in ``Catalog.skipped_overlays``.

    Attributes:
        overlay_dir: the overlay folder; None (the default) is the home's ``catalog`` folder.
    """

    overlay_dir: str | None = None

    def load(self) -> Catalog:
        """The catalog as the code location sees it (invalid overlay files left out)."""
        overlay_dirs = None if self.overlay_dir is None else [Path(self.overlay_dir)]
        return load_catalog(overlay_dirs=overlay_dirs, strict=False)

    def for_run(self, log: dg.DagsterLogManager) -> Catalog:
        """The catalog, with each invalid overlay file logged as an error of this run."""
        catalog = self.load()
        for error in catalog.skipped_overlays:
            log.error(f"catalog overlay left out: {error}")
        return catalog

    def complete(self, what: str) -> Catalog:
        """The whole catalog, for assets that write catalog-wide tables (facts, imports).

        A partial catalog would rewrite ``raw.hardware``/``raw.models`` without the broken file's
        entries (their rows would leave the training frame) or import a dataset without the rows
        that need them (a content-addressed import could not bring them back later); so these
        refuse to run while an overlay is invalid, keeping the last good tables.

        Args:
            what: what is refused, for the message (``"importing mlperf"``).

        Raises:
            dg.Failure: naming every invalid overlay file and field.
        """
        catalog = self.load()
        if catalog.skipped_overlays:
            raise dg.Failure(
                description=f"{what} refused: fix or remove the invalid catalog overlay(s) first; the tables keep "
                "their last good contents. " + " ".join(catalog.skipped_overlays),
                metadata={"skipped_overlays": list(catalog.skipped_overlays)})
        return catalog


class HarnessSecrets(dg.ConfigurableResource):
    """Secrets a benchmark job needs on its machine (a Hugging Face token for gated pretrained weights).

    Bound through ``dg.EnvVar`` so the value is read from the orchestrator's environment at run time and
    never stored in config, run records, logs or metadata; the launcher puts it in the harness's
    environment only (remote launchers send it as a task secret).

    Attributes:
        hf_token: Hugging Face access token, or None.
        serving_api_key: bearer token of the endpoint an ``openai-server`` sweep loads, or None.
    """

    hf_token: str | None = None
    serving_api_key: str | None = None

    def harness_env(self) -> dict[str, str]:
        """Environment variables for the harness process (only the secrets that are set)."""
        env = {"HF_TOKEN": self.hf_token, SERVING_API_KEY_ENV: self.serving_api_key}
        return {name: value for name, value in env.items() if value}


#: Resource field -> the orchestrator's environment variable it is bound to.
SECRET_ENV_VARS = {"hf_token": "HF_TOKEN", "serving_api_key": SERVING_API_KEY_ENV}


def harness_secrets_from_env() -> HarnessSecrets:
    """Binds each secret to its environment variable when that variable is set (else it stays unset)."""
    return HarnessSecrets(**{field: dg.EnvVar(var) for field, var in SECRET_ENV_VARS.items() if os.environ.get(var)})


class PipesMessageStore(dg.ConfigurableResource):
    """Optional object storage (any S3-compatible store) for the Pipes messages of benchmark jobs.

    Unset (the default), rows come back the way the launcher reads its job: a local subprocess's
    pipe, a dstack job's log stream. With ``s3_bucket`` set, every job writes its messages to
    ``s3://<bucket>/<prefix>/<run>-<random>/`` and the orchestrator polls them; the chunks are
    deleted once read unless ``keep_objects``. Bound to environment variables through
    ``dg.EnvVar`` (see :data:`MESSAGE_STORE_ENV_VARS`); the credentials reach the job's environment
    only.

    Attributes:
        s3_bucket: bucket name, or None for no object storage.
        s3_prefix: key prefix of the message chunks.
        s3_endpoint_url: endpoint of a non-AWS store (MinIO, R2, ...); None = AWS S3.
        s3_region: region name.
        upload_interval_s: seconds between chunk uploads (and polls).
        keep_objects: keep the chunks after a run.
        aws_access_key_id: credentials for orchestrator and job (None = the SDK's own chain on
            each side, e.g. an instance role).
        aws_secret_access_key: see ``aws_access_key_id``.
        aws_session_token: see ``aws_access_key_id``.
    """

    s3_bucket: str | None = None
    s3_prefix: str = "inference-estimation/pipes"
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    upload_interval_s: float = 2.0
    keep_objects: bool = False
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None

    def store(self):  # -> S3MessageStore | None (imported lazily: dagster-aws is the `cloud` extra)
        """The configured store, or None when no bucket is set."""
        if not self.s3_bucket:
            return None
        from inference_estimation.launchers.object_store import S3MessageStore

        credentials = {"AWS_ACCESS_KEY_ID": self.aws_access_key_id,
                       "AWS_SECRET_ACCESS_KEY": self.aws_secret_access_key,
                       "AWS_SESSION_TOKEN": self.aws_session_token}
        return S3MessageStore(bucket=self.s3_bucket, prefix=self.s3_prefix, endpoint_url=self.s3_endpoint_url,
                              region=self.s3_region, upload_interval_s=self.upload_interval_s,
                              keep_objects=self.keep_objects,
                              credentials={k: v for k, v in credentials.items() if v})


#: PipesMessageStore field -> environment variable it is bound to when set.
MESSAGE_STORE_ENV_VARS = {
    "s3_bucket": "INFERENCE_ESTIMATION_PIPES_S3_BUCKET",
    "s3_prefix": "INFERENCE_ESTIMATION_PIPES_S3_PREFIX",
    "s3_endpoint_url": "AWS_ENDPOINT_URL_S3",
    "s3_region": "AWS_DEFAULT_REGION",
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "aws_session_token": "AWS_SESSION_TOKEN",
}


def pipes_message_store_from_env() -> PipesMessageStore:
    """The store bound to its environment variables; unset (no object storage) without a bucket."""
    if not os.environ.get(MESSAGE_STORE_ENV_VARS["s3_bucket"]):
        return PipesMessageStore()
    return PipesMessageStore(**{field: dg.EnvVar(var) for field, var in MESSAGE_STORE_ENV_VARS.items()
                                if os.environ.get(var)})


#: Definition metadata keys by which an asset states what the predictor store keeps of its output.
STORE_STAGE_KEY, STORE_NAME_KEY = "predictor_store/stage", "predictor_store/name"


def predictor_store_role(stage: str, name: str | None = None) -> dict[str, str]:
    """Definition metadata of an asset whose output lives in the predictor store.

    Args:
        stage: ``trained`` (the asset returns a freshly fitted model: stored as a new version) or
            ``promoted`` (it returns a stored version it received: only the pointer moves).
        name: the model's name in the store; None = the asset's partition key (the target).
    """
    return {STORE_STAGE_KEY: stage, **({STORE_NAME_KEY: name} if name else {})}


class PredictorStore(dg.ConfigurableIOManager):
    """Keeps models in the home's predictor store and hands them to the assets that depend on them.

    An asset declares its role with :func:`predictor_store_role`. A *trained* asset's output (a
    CatBoost primitive or the step model, or None when there was too little data) is written once
    to a content-addressed folder and the ``trained`` pointer moves to it (None removes the
    pointer). A *promoted* asset's output is the stored version it received as input: the
    ``promoted`` pointer moves to that folder, nothing is copied (None keeps the promoted one).
    A downstream input gets the :class:`~inference_estimation.lib.ml.predictor_store.StoredPredictor`
    its upstream's pointer names -- the model, its card, content version and data version -- or None.

    Attributes:
        predictors_dir: the store's folder; None (the default) is the home's ``predictors`` folder.
    """

    predictors_dir: str | None = None

    def folder(self) -> Path:
        """The store's folder (resolved at run time, like the home)."""
        if self.predictors_dir:
            return Path(self.predictors_dir).expanduser().resolve()
        return get_home().predictors_dir

    @staticmethod
    def _role(metadata: dict[str, Any], partition_key: str | None, asset: str) -> tuple[str, str]:
        values = {k: getattr(v, "value", v) for k, v in (metadata or {}).items()}
        stage, name = values.get(STORE_STAGE_KEY), values.get(STORE_NAME_KEY) or partition_key
        if stage not in predictor_store.STAGES or not name:
            raise dg.Failure(f"{asset} is not declared for the predictor store (metadata "
                             f"predictor_store_role(stage, name) and, without a name, a partition per model)")
        return stage, name

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Stores a trained model as a new version, or points ``promoted`` at the version received."""
        key = context.asset_key.to_user_string()
        stage, name = self._role(context.definition_metadata, context.partition_key if context.has_partition_key
                                 else None, key)
        root = self.folder()
        if obj is None:
            if stage == predictor_store.TRAINED:  # no model is better than one of too little data
                predictor_store.clear_pointer(root, stage, name)
            return
        if isinstance(obj, predictor_store.StoredPredictor):
            pointer = predictor_store.point_at(root, stage, obj.pointer)
        elif stage == predictor_store.TRAINED:
            pointer = predictor_store.write_version(root, name, obj)
        else:
            raise dg.Failure(f"{key} promotes a stored version (its input), not a new {type(obj).__name__}")
        context.add_output_metadata({"store/version": pointer.version,
                                     "store/folder": dg.MetadataValue.path(str(pointer.folder))})

    def load_input(self, context: dg.InputContext) -> predictor_store.StoredPredictor | None:
        """The version the upstream asset's pointer names, loaded (None when it has none)."""
        upstream = context.upstream_output
        if upstream is None or upstream.asset_key is None:
            raise dg.Failure("the predictor store loads asset inputs only")
        partition = context.asset_partition_key if context.has_asset_partitions else None
        stage, name = self._role(upstream.definition_metadata, partition, upstream.asset_key.to_user_string())
        return predictor_store.load(self.folder(), stage, name)


class TrainingResource(dg.ConfigurableResource):
    """How every run trains a predictor, whoever starts it (the CLI, a schedule, the UI, a test).

    Attributes:
        cv_folds: grouped-by-model folds of the held-out score and the conformal interval (capped
            at the number of models).
    """

    cv_folds: int = constants.CV_FOLDS


@dg.definitions
def resources() -> dg.Definitions:
    """The home and catalog, the warehouse in the home, the project's dbt CLI, the harness's secrets, the
    Pipes message store, the predictor store and the training settings."""
    home = get_home()  # the warehouse's folder must exist before the first connection
    return dg.Definitions(
        resources={
            "home": HomeResource(),
            "catalog": CatalogResource(),
            "duckdb": DuckDBResource(database=str(home.warehouse_path)),
            "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
            "harness_secrets": harness_secrets_from_env(),
            "pipes_message_store": pipes_message_store_from_env(),
            "predictor_store": PredictorStore(),
            "training": TrainingResource(),
        }
    )
