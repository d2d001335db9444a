"""Summaries of timed trials into record metrics, one function per kind of workload.

* offline LLM batches (transformers, vLLM): medians over trials, TTFT/ITL percentiles;
* serving loads (OpenAI-compatible servers): vLLM's benchmark metrics -- means and
  p50/p90/p99 of TTFT, ITL and request latency over every request, throughputs, goodput;
* tabular prediction batches: batch latency and rows per second.

Each returns a :class:`TrialSummary`; energy fields are added by :mod:`benchmark_jobs.records`
the same way for all of them.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from benchmark_jobs.backends.base import TrialSummary
from benchmark_jobs.spec import WorkloadPoint
from benchmark_jobs.stats import median, percentiles


def offline_llm_summary(point: WorkloadPoint, timings: Sequence[Any]) -> TrialSummary:
    """One batch of ``batch_size`` prompts per trial, each generating ``output_tokens``.

    ``e2e_latency_s``, ``ttft_s`` and ``tpot_s`` are medians over trials (of each trial's
    batch latency, and of the trial's mean TTFT/TPOT over its requests); percentiles pool
    every request's TTFT and every step's inter-token gap over all trials; ``e2e_p*_s`` are
    percentiles of the batch latency over trials. Throughputs use the median batch latency.
    """
    e2e_s = median([t.e2e_latency_s for t in timings])
    ttfts_s = [ttft for t in timings for ttft in t.request_ttfts_s]
    itls_s = [gap for t in timings for gap in t.itl_s]
    ttft_p50, ttft_p90, ttft_p99 = percentiles(ttfts_s)
    itl_p50, itl_p90, itl_p99 = percentiles(itls_s)
    e2e_p50, e2e_p90, e2e_p99 = percentiles([t.e2e_latency_s for t in timings])
    output_tokens_total = point.batch_size * point.output_tokens
    all_tokens_total = point.batch_size * (point.input_tokens + point.output_tokens)
    fields = {
        "e2e_latency_s": e2e_s,
        "ttft_s": median([t.ttft_s for t in timings]),
        "tpot_s": median([t.tpot_s for t in timings]),
        "output_throughput_tok_s": output_tokens_total / e2e_s if e2e_s else None,
        "total_throughput_tok_s": all_tokens_total / e2e_s if e2e_s else None,
        "ttft_p50_s": ttft_p50,
        "ttft_p90_s": ttft_p90,
        "ttft_p99_s": ttft_p99,
        "itl_p50_s": itl_p50,
        "itl_p90_s": itl_p90,
        "itl_p99_s": itl_p99,
        "e2e_p50_s": e2e_p50,
        "e2e_p90_s": e2e_p90,
        "e2e_p99_s": e2e_p99,
    }
    return TrialSummary(fields, float(output_tokens_total))


def tabular_summary(point: WorkloadPoint, timings: Sequence[Any]) -> TrialSummary:
    """One prediction call on ``batch_size`` rows per trial.

    ``e2e_latency_s`` is the median call latency, ``row_throughput_rows_s`` the rows over it,
    ``e2e_p*_s`` the percentiles of call latency over trials. Token metrics stay null.
    """
    latencies_s = [t.e2e_latency_s for t in timings]
    e2e_s = median(latencies_s)
    e2e_p50, e2e_p90, e2e_p99 = percentiles(latencies_s)
    fields = {
        "e2e_latency_s": e2e_s,
        "row_throughput_rows_s": point.batch_size / e2e_s if e2e_s else None,
        "e2e_p50_s": e2e_p50,
        "e2e_p90_s": e2e_p90,
        "e2e_p99_s": e2e_p99,
    }
    return TrialSummary(fields, None)


def serving_summary(
    trials: Sequence[Any],
    ttft_limit_s: float | None = None,
    tpot_limit_s: float | None = None,
    e2e_limit_s: float | None = None,
) -> TrialSummary:
    """Pools every request of every trial, as vLLM's serving benchmark reports one run.

    Each trial has ``requests`` (with ``ttft_s``, ``itl_s``, ``e2e_s``, ``prompt_tokens``,
    ``output_tokens``, ``tpot_s``) and ``duration_s`` (first send to last completion).

    * ``ttft_s``, ``tpot_s``, ``e2e_latency_s``: means over requests (TPOT of a request is
      (e2e - TTFT) / (output tokens - 1); one-token requests have none).
    * ``*_p50/p90/p99_s``: percentiles of TTFT, of every inter-chunk gap (ITL), of e2e.
    * throughputs: tokens (output; prompt + output) and requests per second of trial time.
    * ``goodput_rps``: requests per second that met every given limit (vLLM's definition:
      TTFT <= ttft_limit_s, TPOT <= tpot_limit_s, e2e <= e2e_limit_s); with no limit given
      it is null, not the request throughput.
    """
    requests = [r for trial in trials for r in trial.requests]
    duration_s = sum(trial.duration_s for trial in trials)
    ttfts_s = [r.ttft_s for r in requests]
    itls_s = [gap for r in requests for gap in r.itl_s]
    e2es_s = [r.e2e_s for r in requests]
    tpots_s = [r.tpot_s for r in requests if r.tpot_s is not None]
    output_tokens = sum(r.output_tokens for r in requests)
    prompt_tokens = sum(r.prompt_tokens for r in requests)
    ttft_p50, ttft_p90, ttft_p99 = percentiles(ttfts_s)
    itl_p50, itl_p90, itl_p99 = percentiles(itls_s)
    e2e_p50, e2e_p90, e2e_p99 = percentiles(e2es_s)
    limits_given = any(limit is not None for limit in (ttft_limit_s, tpot_limit_s, e2e_limit_s))
    good = sum(
        1 for r in requests if meets_limits(r.ttft_s, r.tpot_s, r.e2e_s, ttft_limit_s, tpot_limit_s, e2e_limit_s)
    )
    fields = {
        "e2e_latency_s": statistics.fmean(e2es_s) if e2es_s else None,
        "ttft_s": statistics.fmean(ttfts_s) if ttfts_s else None,
        "tpot_s": statistics.fmean(tpots_s) if tpots_s else None,
        "output_throughput_tok_s": output_tokens / duration_s if duration_s > 0 else None,
        "total_throughput_tok_s": (prompt_tokens + output_tokens) / duration_s if duration_s > 0 else None,
        "request_throughput_rps": len(requests) / duration_s if duration_s > 0 else None,
        "goodput_rps": good / duration_s if limits_given and duration_s > 0 else None,
        "ttft_p50_s": ttft_p50,
        "ttft_p90_s": ttft_p90,
        "ttft_p99_s": ttft_p99,
        "itl_p50_s": itl_p50,
        "itl_p90_s": itl_p90,
        "itl_p99_s": itl_p99,
        "e2e_p50_s": e2e_p50,
        "e2e_p90_s": e2e_p90,
        "e2e_p99_s": e2e_p99,
    }
    return TrialSummary(fields, output_tokens / len(trials) if trials else None)


def meets_limits(
    ttft_s: float,
    tpot_s: float | None,
    e2e_s: float,
    ttft_limit_s: float | None,
    tpot_limit_s: float | None,
    e2e_limit_s: float | None,
) -> bool:
    """Whether one request met every given limit (a request without a TPOT meets that one)."""
    if ttft_limit_s is not None and ttft_s > ttft_limit_s:
        return False
    if tpot_limit_s is not None and tpot_s is not None and tpot_s > tpot_limit_s:
        return False
    return e2e_limit_s is None or e2e_s <= e2e_limit_s
