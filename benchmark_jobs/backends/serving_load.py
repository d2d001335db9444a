"""Load generation against an OpenAI-compatible streaming endpoint (stdlib only).

One trial sends ``n`` requests to ``POST /v1/completions`` with ``stream: true`` and reads the
server-sent events as they arrive, the way vLLM's ``benchmark_serving`` does:

* arrivals: all at once, or at a request rate with gamma-distributed gaps (shape
  ``burstiness``; 1 = a Poisson process), optionally capped at ``concurrency`` requests in
  flight (a request waiting for a slot is not yet sent, so its TTFT starts when it is);
* each request: TTFT = first chunk with choices - send time; ITL = gaps between later chunks;
  e2e = last byte - send time; tokens from the final ``usage`` chunk
  (``stream_options.include_usage``), else the number of chunks;
* generation is forced to the sampled length (``min_tokens`` = ``max_tokens``,
  ``ignore_eos``: vLLM/SGLang sampling extensions); a server that returns another length
  fails the request, because its latency would not be comparable.

Requests run in threads (``http.client``), so the harness needs no HTTP library.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from benchmark_jobs.backends.base import PointTimeoutError
from benchmark_jobs.constants import PROMPT_TOKEN_ID_MIN

#: Most requests in flight at once when the concurrency is unbounded (threads are the client).
MAX_CLIENT_THREADS = 1024

#: Short, common English words (one token each in the usual BPE vocabularies) for text prompts.
TEXT_PROMPT_WORDS = (
    "the of and to in is it you that he was for on are as with his they at be this have from or one "
    "had by word but not what all were we when your can said there use an each which she do how their "
    "if will up other about out many then them these so some her would make like him into time has "
    "look two more write go see number no way could people my than first water been call who oil its "
    "now find long down day did get come made may part"
).split()


@dataclass(frozen=True)
class RequestPlan:
    """One request of a trial: its prompt and forced output length, and when to send it."""

    prompt: list[int] | str
    prompt_tokens: int
    output_tokens: int
    send_offset_s: float


@dataclass
class RequestResult:
    """What one streamed request measured (``perf_counter`` seconds)."""

    ok: bool
    prompt_tokens: int
    output_tokens: int = 0
    ttft_s: float = 0.0
    itl_s: list[float] = field(default_factory=list)
    e2e_s: float = 0.0
    error: str | None = None

    @property
    def tpot_s(self) -> float | None:
        """(e2e - TTFT) / (output tokens - 1), as vLLM's benchmark defines it; None for 1 token."""
        if self.output_tokens < 2:
            return None
        return (self.e2e_s - self.ttft_s) / (self.output_tokens - 1)


@dataclass
class ServingTrial:
    """One load run: every request's result and the run's wall time.

    Attributes:
        requests: results of the requests that completed.
        duration_s: first send to last completion (the throughput denominator).
        failures: results of failed requests (a trial with failures is not summarised).
    """

    requests: list[RequestResult]
    duration_s: float
    failures: list[RequestResult] = field(default_factory=list)

    @property
    def e2e_latency_s(self) -> float:
        """Mean request latency (the quantity whose CV decides whether to run another trial)."""
        return statistics.fmean(r.e2e_s for r in self.requests) if self.requests else 0.0


def sample_lengths(rng: np.random.Generator, mean: int, distribution: str, spread: float, n: int) -> list[int]:
    """``n`` lengths around ``mean``: fixed, uniform in mean x [1 - spread, 1 + spread], or
    normal with std = spread x mean; rounded and clipped to at least 1."""
    if distribution == "fixed" or spread == 0:
        return [mean] * n
    if distribution == "uniform":
        values = rng.uniform(mean * (1 - spread), mean * (1 + spread), size=n)
    elif distribution == "normal":
        values = rng.normal(mean, spread * mean, size=n)
    else:
        raise ValueError(f"unknown length distribution {distribution!r}")
    return [max(1, int(round(v))) for v in values]


def arrival_offsets_s(rng: np.random.Generator, n: int, rate_rps: float | None, burstiness: float = 1.0) -> list[float]:
    """Send times of ``n`` requests relative to the first (which goes at 0).

    With a rate, gaps are gamma-distributed with shape ``burstiness`` and mean ``1 / rate``
    (shape 1 = exponential gaps = a Poisson process); without one, every request goes at once.
    """
    if rate_rps is None or n <= 1:
        return [0.0] * n
    gaps = rng.gamma(shape=burstiness, scale=1.0 / (rate_rps * burstiness), size=n - 1)
    return [0.0, *np.cumsum(gaps).tolist()]


def make_prompt(rng: np.random.Generator, length: int, prompt_format: str, vocab_size: int | None) -> list[int] | str:
    """A random prompt of ``length`` token ids, or of ``length`` words (about as many tokens)."""
    if prompt_format == "token-ids":
        if not vocab_size:
            raise ValueError("token-id prompts need the model's vocab_size")
        low = PROMPT_TOKEN_ID_MIN if vocab_size > PROMPT_TOKEN_ID_MIN else 0
        return rng.integers(low, vocab_size, size=length).tolist()
    words = rng.choice(len(TEXT_PROMPT_WORDS), size=length)
    return " ".join(TEXT_PROMPT_WORDS[i] for i in words)


class HTTPStatusError(RuntimeError):
    """The server answered with a status other than 200.

    Attributes:
        status: the HTTP status code.
    """

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class CompletionsClient:
    """Streams ``/v1/completions`` of one OpenAI-compatible server (one connection per request)."""

    def __init__(self, base_url: str, model: str | None, *, timeout_s: float, api_key: str | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self.model = model
        self.timeout_s = timeout_s
        self.headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"

    def _connection(self, timeout_s: float) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        return cls(self.host, self.port, timeout=timeout_s)

    def get_json(self, path: str, timeout_s: float = 10.0) -> Any:
        """GETs a JSON document (``/v1/models``, ``/version``); raises on a non-200 answer."""
        connection = self._connection(timeout_s)
        try:
            connection.request("GET", self.prefix + path, headers={k: v for k, v in self.headers.items() if k != "Accept"})
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise HTTPStatusError(f"GET {path}: HTTP {response.status}: {body[:200]!r}", response.status)
            return json.loads(body)
        finally:
            connection.close()

    def stream_completion(self, plan: RequestPlan) -> RequestResult:
        """Sends one streaming completion and times its chunks; never raises."""
        body = json.dumps(
            {
                "model": self.model,
                "prompt": plan.prompt,
                "max_tokens": plan.output_tokens,
                "min_tokens": plan.output_tokens,
                "ignore_eos": True,
                "temperature": 0.0,
                "stream": True,
                "stream_options": {"include_usage": True},
            }
        )
        result = RequestResult(ok=False, prompt_tokens=plan.prompt_tokens)
        connection = self._connection(self.timeout_s)
        start_s = time.perf_counter()
        try:
            connection.request("POST", self.prefix + "/v1/completions", body=body, headers=self.headers)
            response = connection.getresponse()
            if response.status != 200:
                result.error = f"HTTP {response.status}: {response.read()[:300].decode(errors='replace')}"
                return result
            chunks = 0
            last_s = start_s
            usage: dict[str, Any] | None = None
            for raw_line in response:
                now_s = time.perf_counter()
                if now_s - start_s > self.timeout_s:
                    result.error = f"request took longer than {self.timeout_s:g} s"
                    return result
                line = raw_line.decode("utf-8", errors="replace").strip()
                if not line.startswith("data:"):
                    continue  # blank separators, comments, event names
                payload = line[len("data:") :].strip()
                if payload == "[DONE]":
                    break
                data = json.loads(payload)
                if data.get("choices"):
                    if chunks == 0:
                        result.ttft_s = now_s - start_s
                    else:
                        result.itl_s.append(now_s - last_s)
                    chunks += 1
                    last_s = now_s
                if data.get("usage"):
                    usage = data["usage"]
            result.e2e_s = time.perf_counter() - start_s
            result.output_tokens = int(usage["completion_tokens"]) if usage else chunks
            if usage and usage.get("prompt_tokens"):
                result.prompt_tokens = int(usage["prompt_tokens"])
            if chunks == 0:
                result.error = "the stream carried no tokens"
            elif result.output_tokens != plan.output_tokens:
                result.error = (
                    f"server generated {result.output_tokens} tokens, asked for exactly {plan.output_tokens} "
                    "(does it honour min_tokens and ignore_eos?)"
                )
            else:
                result.ok = True
            return result
        except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            return result
        finally:
            connection.close()


def run_load(
    plans: Sequence[RequestPlan],
    send: Callable[[RequestPlan], RequestResult],
    *,
    concurrency: int | None,
    deadline_s: float | None = None,
) -> ServingTrial:
    """Sends every planned request at its offset, at most ``concurrency`` at once.

    Raises:
        PointTimeoutError: the deadline passed before every request completed (requests still
            in flight finish in the background, bounded by the client's request timeout).
    """
    workers = min(concurrency or len(plans), len(plans), MAX_CLIENT_THREADS) or 1
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="serving-client")
    futures: list[Future[RequestResult]] = []
    done = threading.Event()
    start_s = time.perf_counter()
    try:
        for plan in plans:
            wait_s = start_s + plan.send_offset_s - time.perf_counter()
            if deadline_s is not None and time.perf_counter() + max(wait_s, 0.0) > deadline_s:
                raise PointTimeoutError(f"deadline passed after sending {len(futures)} of {len(plans)} requests")
            if wait_s > 0:
                done.wait(wait_s)
            futures.append(executor.submit(send, plan))
        results = []
        for future in futures:
            timeout_s = None if deadline_s is None else max(deadline_s - time.perf_counter(), 0.0)
            try:
                results.append(future.result(timeout=timeout_s))
            except TimeoutError as exc:
                raise PointTimeoutError(
                    f"deadline passed with {sum(not f.done() for f in futures)} requests in flight"
                ) from exc
        duration_s = time.perf_counter() - start_s
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    return ServingTrial(
        requests=[r for r in results if r.ok], duration_s=duration_s, failures=[r for r in results if not r.ok]
    )
