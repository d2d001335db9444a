"""The catalog: models, hardware and sweeps, read from YAML and validated.

This package owns the catalog schema (one module per section: `models`, `hardware`, `sweeps`;
`loading` merges and validates the files). The package ships ``inference_estimation/catalog/*.yaml``;
users (and the local hardware probe) add or override entries with overlay files in
``$INFERENCE_ESTIMATION_HOME/catalog/*.yaml`` without editing the package. An overlay entry whose
key already exists is deep-merged over it (so a probe file can fill in only the measured facts).

Every validation error names the file and the field path, e.g.
``models.yaml: models[2] (key='gpt2-small').architecture.layers: Input should be a valid integer``.
"""


from inference_estimation.lib.catalog.base import (
    DTYPES,
    KEY_PATTERN,
    SPEC_SOURCES,
    CatalogError,
)
from inference_estimation.lib.catalog.hardware import (
    DstackLaunchConfig,
    HardwareEntry,
    HardwareSpecs,
    LocalLaunchConfig,
)
from inference_estimation.lib.catalog.loading import PACKAGE_CATALOG_DIR, Catalog, load_catalog
from inference_estimation.lib.catalog.models import Architecture, ModelEntry, TabularShape
from inference_estimation.lib.catalog.sweeps import BACKENDS, HARNESS_DTYPES, ServingLoad, SweepEntry

__all__ = [
    "BACKENDS", "DTYPES", "HARNESS_DTYPES", "KEY_PATTERN", "PACKAGE_CATALOG_DIR", "SPEC_SOURCES",
    "Architecture", "Catalog", "CatalogError", "DstackLaunchConfig", "HardwareEntry", "HardwareSpecs",
    "LocalLaunchConfig", "ModelEntry", "ServingLoad", "SweepEntry", "TabularShape", "load_catalog",
]
