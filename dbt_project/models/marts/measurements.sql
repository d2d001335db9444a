-- One row per workload point (point_id): the latest successful run of it, every record column.
select * from {{ ref('int_latest_points') }}
