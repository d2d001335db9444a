"""External data is partitioned by source: one partition per public dataset, plus users' CSVs."""

import dagster as dg

from inference_estimation.lib.data.external.importer import USER_CSV_SOURCE
from inference_estimation.lib.data.external.registry import all_adapters

external_partitions = dg.StaticPartitionsDefinition([*all_adapters(), USER_CSV_SOURCE])
