-- One row per hardware key: catalog spec facts per device, with units in the names.
select
    hardware_key, hardware_kind, vendor, cast(hw_device_count as integer) as hw_device_count,
    cast(peak_tflops_fp32 as double) as peak_tflops_fp32, cast(peak_tflops_bf16 as double) as peak_tflops_bf16,
    cast(peak_tflops_fp16 as double) as peak_tflops_fp16, cast(peak_tflops_fp8 as double) as peak_tflops_fp8,
    cast(peak_tflops_fp4 as double) as peak_tflops_fp4,
    cast(memory_gb as double) as memory_gb, cast(memory_bandwidth_gb_s as double) as memory_bandwidth_gb_s,
    cast(tdp_w as double) as tdp_w, cast(interconnect_bandwidth_gb_s as double) as interconnect_bandwidth_gb_s,
    cast(devices_per_node as integer) as devices_per_node,
    cast(scale_out_bandwidth_gb_s as double) as scale_out_bandwidth_gb_s,
    cast(price_per_hour_usd as double) as price_per_hour_usd, spec_source
from {{ source('raw', 'hardware') }}
