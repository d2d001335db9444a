"""Each engine's scheduler in closed form: step times in, the figures users ask for out.

Given a step clock (seconds of a step that prefills ``P`` tokens and decodes ``D`` sequences, from
:mod:`inference_estimation.lib.physics.step` and the learned efficiencies) and each engine's
documented defaults (:mod:`inference_estimation.lib.ml.engines`), this module derives TTFT, TPOT,
median ITL, e2e latency and output throughput for every row at once (numpy, no per-row Python):

* **Static batches** (transformers, ``llama-bench``): the batch's prompts prefill in one pass,
  then all sequences decode together. TTFT = that prefill; TPOT = one decode step at the batch
  and the mean context ``input + output / 2``.
* **Continuous batching offline at a batch** (vLLM/SGLang/TensorRT-LLM given B prompts): at most
  ``min(max_seqs, KV capacity)`` run at once; prefill proceeds in chunks of the token budget.
* **Saturation** (``batch_size`` null offline, e.g. MLPerf Offline or ``--batch-size max``; a
  static engine's saturation is its largest batch, run as one) and **serving at a concurrency** C:
  a steady state in which each step decodes the R running sequences (R = min(C, max_seqs, KV
  capacity), and on a mixing engine at most ``budget * out / (in + out)``, what one step's token
  budget sustains) and, on average, prefills the ``R * in / out``
  prompt tokens of the requests that replace the finished ones. Mixing engines (chunked prefill,
  in-flight batching) run them in the same step, capped by the token budget; prefill-first
  engines (SGLang, vLLM V0) run separate prefill passes, amortised over the decode steps. TPOT is
  the mean step; the median ITL is the plain decode step unless most steps carry a prefill chunk.
  A new request waits half a step, then its prompt's chunks (each step also decoding the others);
  with C above R it first queues for a slot. Clients of a closed loop with equal lengths stay in
  step: a learned share of requests arrives as one burst (the R prompts prefill together, then
  decode without interleaved prefills). Closed loop: throughput = C * out / e2e.
* **Serving at a request rate** (open loop, Poisson arrivals): the in-flight count N solves
  N = lambda * e2e(N) (Little's law); TTFT adds the M/D/1 wait of the prefill; at or above the
  capacity (the rate R sequences sustain) the answer is the saturated one, flagged.

Identities hold exactly: ``e2e = ttft + (out - 1) * tpot`` and throughput = in-flight * out / e2e.
Figures are per replica and scaled by the data-parallel replica count for throughput.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from inference_estimation.lib.ml.engines import EngineColumns
from inference_estimation.lib.physics.step import StepFacts, StepTerms, step_bound, step_terms
from inference_estimation.targets import REGISTRY

#: ``clock(terms) -> seconds``: the learned step time of each row's step.
StepClock = Callable[[StepTerms], np.ndarray]
#: Fixed-point iterations that solve Little's law for the in-flight count at a request rate.
RATE_ITERATIONS = 14
#: Highest utilisation of an open-loop server before it counts as saturated.
MAX_UTILISATION = 0.97


@dataclass
class Workload:
    """The workload of each row (float arrays; NaN = not given).

    Attributes:
        serving: the engine runs as a server (closed loop at ``concurrency`` or open loop at
            ``request_rate_rps``); else offline at ``batch`` (NaN = the saturation batch).
        batch: sequences given at once offline (whole system); on a serving row, the mean
            running batch it measured (the engine ran its decode steps at that batch).
        concurrency: requests kept in flight (whole system).
        request_rate_rps: Poisson arrival rate (whole system).
        input_tokens: prompt length (NaN or 0: a decode from an empty prompt, no TTFT).
        output_tokens: generated tokens per request.
    """

    serving: np.ndarray
    batch: np.ndarray
    concurrency: np.ndarray
    request_rate_rps: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray


@dataclass
class Schedule:
    """What the scheduler answers per row (seconds, tokens/s; NaN where it does not apply)."""

    ttft_s: np.ndarray
    tpot_s: np.ndarray
    itl_p50_s: np.ndarray
    e2e_latency_s: np.ndarray
    output_throughput_tok_s: np.ndarray
    running_batch: np.ndarray
    in_flight: np.ndarray
    saturated: np.ndarray
    prefill_step_s: np.ndarray
    decode_step_s: np.ndarray
    steady_tokens_per_step: np.ndarray
    open_loop_tok_s: np.ndarray

    def throughput_from(self, ttft_s: np.ndarray, tpot_s: np.ndarray, output_tokens: np.ndarray) -> np.ndarray:
        """Output tokens/s by the row's identity, for (possibly shifted) TTFT and TPOT.

        Steady state (saturation, a saturated open loop): output per step over the step time;
        open loop below capacity: the rate times the output; else in flight x output / e2e
        (in flight / TPOT for a decode from an empty prompt).
        """
        n_out = np.maximum(np.nan_to_num(output_tokens, nan=1.0), 1.0)
        identity = REGISTRY["output_throughput_tok_s"].identity
        values = {"ttft_s": ttft_s, "tpot_s": tpot_s, "output_tokens": n_out, "in_flight": self.in_flight,
                  "running_batch": self.steady_tokens_per_step, "replicas": 1.0}
        with np.errstate(divide="ignore", invalid="ignore"):
            values["e2e_latency_s"] = REGISTRY["e2e_latency_s"].identity["closed"](values)
            closed = np.where(np.isnan(ttft_s), self.in_flight / tpot_s, identity["closed"](values))
            steady = identity["saturation"](values)  # running batch x replicas (per step) / step time
        open_loop = self.open_loop_tok_s  # = rate x output (identity "open_loop"), computed in schedule()
        return np.where(~np.isnan(open_loop), open_loop, np.where(~np.isnan(self.steady_tokens_per_step), steady, closed))


def kv_capacity_seqs(f: StepFacts, eng: EngineColumns, n_in: np.ndarray, n_out: np.ndarray,
                     whole: bool = False) -> np.ndarray:
    """Sequences whose KV cache fits beside the weights in one replica's engine memory (>= 1).

    An engine that reserves each request's whole length counts ``in + out`` tokens a sequence;
    one that pages its cache the mean a running sequence holds, ``in + out / 2`` (``whole``: the
    whole length, for saying how many whole contexts fit).
    """
    free = np.where(eng.fraction_of_free, (f.memory_bytes_per_replica - f.weight_bytes_total) * eng.memory_fraction,
                    f.memory_bytes_per_replica * eng.memory_fraction - f.weight_bytes_total)
    tokens = n_in + np.where(eng.reserve_full_length | whole, n_out, n_out / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        seqs = np.floor(free / (f.kv_bytes_per_token * np.maximum(tokens, 1.0)))
    return np.where(np.isfinite(seqs), np.maximum(seqs, 1.0), 1e9)


def saturation_limits(facts: StepFacts, eng: EngineColumns, n_in: np.ndarray, n_out: np.ndarray) -> dict[str, np.ndarray]:
    """The sequences an engine runs at once per replica, and what limits them.

    Returns:
        ``kv`` (sequences whose KV cache fits, by the engine's rule: :func:`kv_capacity_seqs`),
        ``kv_whole`` (the same memory at each sequence's whole context), ``cap`` (``kv`` and the
        engine's sequence limit), ``running`` (the saturation batch: ``cap`` and, on a mixing
        engine, what one step's token budget sustains, ``R + R in / out <= budget``) and
        ``limit`` (0: the KV cache, 1: the sequence limit, 2: the token budget).
    """
    has_in = n_in > 0
    kv = kv_capacity_seqs(facts, eng, n_in, n_out)
    whole = kv_capacity_seqs(facts, eng, n_in, n_out, whole=True)
    cap = np.minimum(eng.max_seqs, kv)
    sustainable = np.where(eng.mixed & eng.continuous.astype(bool) & has_in,
                           np.maximum(np.floor(eng.token_budget * n_out / np.maximum(n_in + n_out, 1.0)), 1.0), np.inf)
    running = np.minimum(cap, sustainable)
    limit = np.where(running < cap, 2, np.where(eng.max_seqs < kv, 1, 0))
    return {"kv": kv, "kv_whole": whole, "cap": cap, "running": running, "limit": limit}


class _Steps:
    """Step times of the deployment under one clock (a thin helper around :func:`step_terms`)."""

    def __init__(self, facts: StepFacts, clock: StepClock):
        self.f, self.clock = facts, clock

    def __call__(self, P, n_p, ctx_p, D, K) -> np.ndarray:
        return self.clock(step_terms(self.f, P, n_p, ctx_p, D, K))


def _steady(step: _Steps, eng: EngineColumns, R: np.ndarray, n_in: np.ndarray, n_out: np.ndarray,
            has_in: np.ndarray) -> dict[str, np.ndarray]:
    """The steady state at R running sequences (see the module docstring)."""
    K = n_in + n_out / 2.0
    need = np.where(has_in, R * n_in / n_out, 0.0)  # prefill tokens arriving per decode step
    room = np.maximum(eng.token_budget - R, 0.25 * eng.token_budget)
    p_mixed = np.minimum(need, room)
    t_decode = step(0.0, 0.0, 0.0, R, K)
    t_mixed = step(p_mixed, p_mixed / np.maximum(n_in, 1.0), n_in / 2.0, R, K)
    batch_p = np.minimum(eng.token_budget, np.maximum(n_in, need))
    t_prefill_pass = step(batch_p, batch_p / np.maximum(n_in, 1.0), n_in / 2.0, 0.0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        separate = t_decode + np.where(has_in, need / np.maximum(batch_p, 1.0) * t_prefill_pass, 0.0)
    tpot = np.where(eng.mixed, t_mixed, separate)
    # output tokens per step: R, unless the budget cannot admit prompts as fast as they finish
    produced = np.where(eng.mixed & has_in, np.minimum(R, p_mixed * n_out / np.maximum(n_in, 1.0)), R)
    chunk = np.minimum(n_in, room)
    chunks = np.ceil(np.maximum(n_in, 1.0) / np.maximum(room, 1.0))
    share_with_prefill = np.where(eng.mixed, np.minimum(1.0, R / n_out * chunks), need / np.maximum(batch_p, 1.0))
    itl50 = np.where(share_with_prefill < 0.5, t_decode, tpot)
    t_chunk = step(chunk, 1.0, n_in / 2.0, R, K)
    ttft_mixed = 0.5 * t_mixed + chunks * t_chunk
    ttft_separate = 0.5 * t_decode + step(np.maximum(n_in, 1.0), 1.0, n_in / 2.0, 0.0, 0.0)
    ttft = np.where(has_in, np.where(eng.mixed, ttft_mixed, ttft_separate), np.nan)
    # a burst: the R requests arrive together (a closed loop with equal lengths stays in step)
    burst_tokens = np.maximum(R * n_in, 1.0)
    n_burst = np.ceil(burst_tokens / eng.token_budget)
    t_burst = step(burst_tokens / n_burst, R / n_burst, n_in / 2.0, 0.0, 0.0)
    ttft_burst = np.where(has_in, (n_burst + 1.0) / 2.0 * t_burst, np.nan)
    return {"tpot": tpot, "itl50": itl50, "ttft": ttft, "produced": produced, "t_decode": t_decode,
            "t_prefill": np.where(eng.mixed, t_chunk, t_prefill_pass), "ttft_burst": ttft_burst}


def _offline(step: _Steps, eng: EngineColumns, batch: np.ndarray, cap: np.ndarray, static: np.ndarray,
             n_in: np.ndarray, n_out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A given batch offline: a static engine runs it whole; a continuous one in waves of its running
    cap, prefilled in chunks of its token budget.

    Returns:
        (the running batch, prefill steps, the batch's prefill time, one decode step's time).
    """
    b = np.maximum(np.nan_to_num(batch, nan=1.0), 1.0)
    run = np.where(static, b, np.minimum(b, cap))
    prefill_tokens = run * n_in
    n_steps = np.where(static, 1.0, np.ceil(np.maximum(prefill_tokens, 1.0) / eng.token_budget))
    per_step = prefill_tokens / n_steps
    t_batch_prefill = n_steps * step(per_step, run / n_steps, n_in / 2.0, 0.0, 0.0)
    t_batch_decode = step(0.0, 0.0, 0.0, run, n_in + n_out / 2.0)
    return run, n_steps, t_batch_prefill, t_batch_decode


def _closed_loop(step: _Steps, eng: EngineColumns, conc: np.ndarray, measured_running: np.ndarray,
                 batch: np.ndarray, cap: np.ndarray, steady_cap: np.ndarray, n_in: np.ndarray, n_out: np.ndarray,
                 has_in: np.ndarray, burst_share: np.ndarray | float,
                 ttft_overhead_s: np.ndarray | float) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray,
                                                               np.ndarray, np.ndarray]:
    """A closed loop of ``conc`` clients per replica: the running batch (at most the steady cap; the
    rest wait their turn), its steady state, and its TTFT, TPOT and median ITL, a ``burst_share`` of
    the requests arriving together with the others.

    A serving row that states its batch (``measured_running``) states the running batch it measured
    (e.g. the time mean of the engine's running requests): the decode steps ran at that batch.

    Returns:
        (running batch, its steady state, TTFT, TPOT, median ITL).
    """
    r_closed = np.minimum(np.maximum(np.nan_to_num(conc, nan=1.0), 1.0), steady_cap)
    r_closed = np.where(measured_running, np.minimum(np.maximum(np.nan_to_num(batch, nan=1.0), 1.0), cap), r_closed)
    clo = _steady(step, eng, r_closed, n_in, n_out, has_in)
    waiting = np.maximum(np.nan_to_num(conc, nan=1.0) - r_closed, 0.0)
    run_e2e = np.where(has_in, clo["ttft"] + (n_out - 1.0) * clo["tpot"], n_out * clo["tpot"])
    queue_wait = waiting / r_closed * run_e2e
    w = burst_share
    tpot = (1.0 - w) * clo["tpot"] + w * clo["t_decode"]
    itl50 = (1.0 - w) * clo["itl50"] + w * clo["t_decode"]
    ttft = (1.0 - w) * clo["ttft"] + w * clo["ttft_burst"] + queue_wait + ttft_overhead_s
    return r_closed, clo, ttft, tpot, itl50


def _open_loop(step: _Steps, eng: EngineColumns, lam: np.ndarray, open_loop: np.ndarray, sat: dict[str, np.ndarray],
               steady_cap: np.ndarray, n_in: np.ndarray, n_out: np.ndarray, has_in: np.ndarray,
               ttft_overhead_s: np.ndarray | float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Rows at a request rate ``lam`` per replica: the requests in flight solved by Little's law, the
    wait for a prefill slot from an M/D/1 queue; a rate past :data:`MAX_UTILISATION` of what the
    saturated server sustains answers at saturation.

    Returns:
        (``ttft``, ``tpot``, ``itl50`` and ``running`` of the open-loop rows; the rows over capacity).
    """
    r_sat = steady_cap
    sat_e2e = np.where(has_in, sat["ttft"] + ttft_overhead_s + (n_out - 1.0) * sat["tpot"], n_out * sat["tpot"])
    capacity = r_sat / sat_e2e  # requests/s one replica sustains
    rho = lam / capacity
    over = open_loop & (rho >= MAX_UTILISATION)
    n = np.maximum(lam * sat_e2e * 0.1, 1.0)
    for _ in range(RATE_ITERATIONS):
        st = _steady(step, eng, np.minimum(np.maximum(n, 1.0), steady_cap), n_in, n_out, has_in)
        e2e_n = np.where(has_in, st["ttft"] + ttft_overhead_s + (n_out - 1.0) * st["tpot"], n_out * st["tpot"])
        n = np.where(open_loop, 0.5 * n + 0.5 * np.maximum(lam * e2e_n, 1.0), n)
    st = _steady(step, eng, np.minimum(np.maximum(n, 1.0), steady_cap), n_in, n_out, has_in)
    rho_c = np.minimum(rho, MAX_UTILISATION)
    wait = st["t_prefill"] * rho_c / (2.0 * (1.0 - rho_c))
    return {"ttft": np.where(over, sat["ttft"] + ttft_overhead_s, st["ttft"] + ttft_overhead_s + wait),
            "tpot": np.where(over, sat["tpot"], st["tpot"]), "itl50": np.where(over, sat["itl50"], st["itl50"]),
            "running": np.where(over, r_sat, np.minimum(n, steady_cap))}, over


def schedule(facts: StepFacts, eng: EngineColumns, work: Workload, clock: StepClock,
             ttft_overhead_s: np.ndarray | float = 0.0, burst_share: np.ndarray | float = 0.0) -> Schedule:
    """Derives every figure of every row (see the module docstring).

    Args:
        facts: the deployments' step facts.
        eng: each row's engine defaults.
        work: each row's workload.
        clock: the step clock (learned efficiencies applied to the physical terms).
        ttft_overhead_s: a server's fixed cost before the first token (request handling,
            tokenisation), added to serving TTFT only.
        burst_share: in a closed loop, the share of requests that arrive together with the others
            (equal lengths keep clients in step: their prompts prefill as one burst, then they
            decode without prefill interleaved); the rest arrive spread out (the steady state).
    """
    step = _Steps(facts, clock)
    n_out = np.maximum(np.nan_to_num(work.output_tokens, nan=1.0), 1.0)
    has_in = np.nan_to_num(work.input_tokens) > 0
    n_in = np.where(has_in, np.nan_to_num(work.input_tokens), 0.0)
    reps = facts.replicas
    limits = saturation_limits(facts, eng, n_in, n_out)
    cap, steady_cap = limits["cap"], limits["running"]
    serving = work.serving.astype(bool)
    static = ~eng.continuous.astype(bool)
    batch = work.batch / reps
    # a static engine "at saturation" runs the largest batch its memory holds, as one batch
    batch = np.where(static & ~serving & np.isnan(batch), np.minimum(cap, 1e6), batch)
    saturation = ~serving & np.isnan(batch)

    # --- offline at a given batch (static, or continuous engines in waves of the running cap)
    run, n_steps, t_batch_prefill, t_batch_decode = _offline(step, eng, batch, cap, static, n_in, n_out)
    off_ttft = np.where(has_in, t_batch_prefill, np.nan)
    off_tpot = t_batch_decode

    # --- steady states: saturation offline, closed loop serving
    conc = np.where(serving, np.nan_to_num(work.concurrency, nan=np.nan) / reps, np.nan)
    rate = np.where(serving, work.request_rate_rps / reps, np.nan)
    open_loop = serving & ~np.isnan(rate) & np.isnan(conc)
    r_sat = steady_cap
    sat = _steady(step, eng, r_sat, n_in, n_out, has_in)
    r_closed, clo, clo_ttft, clo_tpot, clo_itl50 = _closed_loop(step, eng, conc, serving & ~np.isnan(batch), batch,
                                                                cap, steady_cap, n_in, n_out, has_in, burst_share,
                                                                ttft_overhead_s)

    ttft = np.where(saturation, sat["ttft"], np.where(serving, clo_ttft, off_ttft))
    tpot = np.where(saturation, sat["tpot"], np.where(serving, clo_tpot, off_tpot))
    itl50 = np.where(saturation, sat["itl50"], np.where(serving, clo_itl50, off_tpot))
    running = np.where(saturation, r_sat, np.where(serving, r_closed, run))
    in_flight = np.where(saturation, r_sat, np.where(serving, np.nan_to_num(conc, nan=1.0), run)) * reps
    in_flight = np.where(~serving & ~saturation & ~np.isnan(work.batch), np.minimum(in_flight, work.batch), in_flight)
    prefill_step = np.where(saturation | serving, np.where(saturation, sat["t_prefill"], clo["t_prefill"]),
                            t_batch_prefill / n_steps)
    decode_step = np.where(saturation, sat["t_decode"], np.where(serving, clo["t_decode"], t_batch_decode))
    saturated = np.zeros(len(n_out), dtype=bool)

    if open_loop.any():
        o, over = _open_loop(step, eng, np.where(open_loop, rate, 0.0), open_loop, sat, steady_cap, n_in, n_out,
                             has_in, ttft_overhead_s)
        ttft = np.where(open_loop, o["ttft"], ttft)
        tpot = np.where(open_loop, o["tpot"], tpot)
        itl50 = np.where(open_loop, o["itl50"], itl50)
        running = np.where(open_loop, o["running"], running)
        in_flight = np.where(open_loop, running * reps, in_flight)
        saturated = over

    e2e = np.where(has_in, ttft + (n_out - 1.0) * tpot, np.nan)
    steady_rows = saturation | (open_loop & saturated)
    produced = np.where(saturation, sat["produced"], running)
    out = Schedule(ttft_s=ttft, tpot_s=tpot, itl_p50_s=itl50, e2e_latency_s=e2e, output_throughput_tok_s=e2e,
                   running_batch=running, in_flight=in_flight, saturated=saturated, prefill_step_s=prefill_step,
                   decode_step_s=decode_step, steady_tokens_per_step=np.where(steady_rows, produced * reps, np.nan),
                   open_loop_tok_s=np.where(open_loop & ~saturated, REGISTRY["output_throughput_tok_s"].identity[
                       "open_loop"]({"request_rate_rps": work.request_rate_rps, "output_tokens": n_out}), np.nan))
    out.output_throughput_tok_s = out.throughput_from(ttft, tpot, work.output_tokens)
    return out


def physical_bounds(facts: StepFacts, work: Workload) -> dict[str, np.ndarray]:
    """Lower bounds of TTFT and TPOT that no engine can beat (one prompt; one sequence's decode).

    Whatever batch an engine forms, a request's prompt must be prefilled (at least its own
    tokens at peak) and each decode step reads the weights it touches.
    """
    n_out = np.maximum(np.nan_to_num(work.output_tokens, nan=1.0), 1.0)
    n_in = np.nan_to_num(work.input_tokens)
    zeros = np.zeros(len(n_out))
    prefill = step_bound(step_terms(facts, n_in, np.ones_like(n_in), n_in / 2.0, zeros, zeros))
    decode = step_bound(step_terms(facts, zeros, zeros, zeros, np.ones_like(n_in), n_in + n_out / 2.0))
    return {"ttft_s": np.where(n_in > 0, prefill, np.nan), "tpot_s": decode}
