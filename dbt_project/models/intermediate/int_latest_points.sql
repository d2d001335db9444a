-- One row per workload point (point_id): its latest successful run. A newer failed run (oom, timeout,
-- error) does not hide an older successful one; older runs stay in raw.* (history matters when drivers
-- and engines change).
select *
from {{ ref('int_runs_unioned') }}
where status = 'ok'
qualify row_number() over (partition by point_id order by measured_at_ts desc, run_id desc) = 1
