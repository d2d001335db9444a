"""A tiny OpenAI-compatible completions server that really generates, for tests and figures.

It builds a small random-weight GPT-2 (transformers, seeded) and serves
``POST /v1/completions`` (streamed as server-sent events, or whole), ``GET /v1/models``,
``GET /version`` and ``GET /health`` with the standard library's threaded HTTP server. Each
request is generated token by token with a KV cache -- one forward pass per token, greedy --
and every token is sent as its own SSE chunk the moment it exists. Forward passes of concurrent
requests take turns under one lock (like a server without batching), so latencies grow with
load as a real server's do.

It is bounded: it stops by itself after ``--max-requests`` completions or ``--max-seconds``,
whichever comes first. Prompts are token ids (a list of ints) or text (each word maps to one
token id); output text is `` t<id>`` per token (there is no tokenizer).

    python tests/benchmark_jobs/support/tiny_openai_server.py --port 0 --max-requests 100
    # first stdout line: LISTENING http://127.0.0.1:<port>
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM

SERVER_VERSION = "tiny-openai-server 0.1"


class TinyGenerator:
    """A random-weight GPT-2 generating greedily one token at a time."""

    def __init__(self, n_layer: int, n_embd: int, n_head: int, vocab_size: int, n_positions: int, device: str) -> None:
        torch.manual_seed(0)
        config = AutoConfig.for_model(
            "gpt2",
            n_layer=n_layer,
            n_embd=n_embd,
            n_head=n_head,
            vocab_size=vocab_size,
            n_positions=n_positions,
            bos_token_id=None,
            eos_token_id=None,
        )
        with torch.device(device):
            self.model = AutoModelForCausalLM.from_config(config).eval()
        self.device = device
        self.vocab_size = vocab_size
        self.n_positions = n_positions
        self.lock = threading.Lock()

    def prompt_ids(self, prompt: Any) -> list[int]:
        """Token ids of a prompt: a list of ints as is, text one id per word."""
        if isinstance(prompt, list) and prompt and isinstance(prompt[0], list):
            prompt = prompt[0]  # a batch of one
        if isinstance(prompt, list):
            ids = [int(t) for t in prompt]
            if any(not 0 <= t < self.vocab_size for t in ids):
                raise ValueError(f"prompt token ids must lie in [0, {self.vocab_size})")
            return ids
        if isinstance(prompt, str):
            return [zlib.crc32(word.encode()) % self.vocab_size for word in prompt.split()] or [0]
        raise ValueError("prompt must be a string or a list of token ids")

    @torch.inference_mode()
    def tokens(self, prompt_ids: list[int], max_tokens: int):
        """Yields ``max_tokens`` greedy token ids, one forward pass each."""
        input_ids = torch.tensor([prompt_ids], device=self.device)
        past = None
        for _ in range(max_tokens):
            with self.lock:
                out = self.model(input_ids=input_ids, past_key_values=past, use_cache=True)
                past = out.past_key_values
                next_id = int(out.logits[0, -1].argmax())
            input_ids = torch.tensor([[next_id]], device=self.device)
            yield next_id


class Handler(BaseHTTPRequestHandler):
    """Routes of the OpenAI-style API (HTTP/1.0: a streamed body ends when the connection closes)."""

    server: TinyServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: the test output stays readable

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> bool:
        """With ``--api-key``, every /v1 route needs ``Authorization: Bearer <key>`` (else 401)."""
        key = self.server.api_key
        if key is None or not self.path.startswith("/v1/") or self.headers.get("Authorization") == f"Bearer {key}":
            return True
        self._json(401, {"error": {"message": "missing or wrong API key"}})
        return False

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        if not self._authorized():
            return
        if self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": self.server.model_name, "object": "model", "owned_by": "tiny-openai-server"}]})
        elif self.path == "/version":
            self._json(200, {"version": SERVER_VERSION})
        elif self.path == "/health":
            self._json(200, {})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        if not self._authorized():
            return
        if self.path != "/v1/completions":
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if request.get("model") not in (None, self.server.model_name):
                raise ValueError(f"model {request.get('model')!r} is not served")
            prompt_ids = self.server.generator.prompt_ids(request.get("prompt"))
            max_tokens = int(request.get("max_tokens", 16))
            if max_tokens < 1 or len(prompt_ids) + max_tokens > self.server.generator.n_positions:
                raise ValueError(
                    f"prompt ({len(prompt_ids)}) + max_tokens ({max_tokens}) exceeds the context of "
                    f"{self.server.generator.n_positions} tokens"
                )
        except (ValueError, TypeError, json.JSONDecodeError) as exc:
            self._json(400, {"error": {"message": str(exc), "type": "BadRequestError"}})
            self.server.count_request()
            return
        try:
            if request.get("stream"):
                self._stream(request, prompt_ids, max_tokens)
            else:
                self._whole(request, prompt_ids, max_tokens)
        finally:
            self.server.count_request()

    def _base(self) -> dict[str, Any]:
        return {"id": f"cmpl-{uuid.uuid4().hex[:16]}", "object": "text_completion", "created": int(time.time()), "model": self.server.model_name}

    def _usage(self, prompt_ids: list[int], generated: int) -> dict[str, int]:
        return {"prompt_tokens": len(prompt_ids), "completion_tokens": generated, "total_tokens": len(prompt_ids) + generated}

    def _stream(self, request: dict[str, Any], prompt_ids: list[int], max_tokens: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        base = self._base()
        generated = 0
        for token_id in self.server.generator.tokens(prompt_ids, max_tokens):
            generated += 1
            finish = "length" if generated == max_tokens else None
            chunk = {**base, "choices": [{"index": 0, "text": f" t{token_id}", "logprobs": None, "finish_reason": finish}], "usage": None}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        if (request.get("stream_options") or {}).get("include_usage"):
            usage = {**base, "choices": [], "usage": self._usage(prompt_ids, generated)}
            self.wfile.write(f"data: {json.dumps(usage)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def _whole(self, request: dict[str, Any], prompt_ids: list[int], max_tokens: int) -> None:
        ids = list(self.server.generator.tokens(prompt_ids, max_tokens))
        text = "".join(f" t{i}" for i in ids)
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": "length"}
        self._json(200, {**self._base(), "choices": [choice], "usage": self._usage(prompt_ids, len(ids))})


class TinyServer(ThreadingHTTPServer):
    """The HTTP server, counting completed requests and stopping itself at its bounds."""

    daemon_threads = True
    request_queue_size = 1024  # the stdlib's 5 resets connections when a load arrives all at once

    def __init__(self, address: tuple[str, int], generator: TinyGenerator, model_name: str, max_requests: int,
                 api_key: str | None = None) -> None:
        super().__init__(address, Handler)
        self.api_key = api_key
        self.generator = generator
        self.model_name = model_name
        self.max_requests = max_requests
        self.completed = 0
        self._count_lock = threading.Lock()

    def count_request(self) -> None:
        with self._count_lock:
            self.completed += 1
            if self.completed >= self.max_requests:
                threading.Thread(target=self.shutdown, daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port (printed on the first line)")
    parser.add_argument("--model-name", default="tiny-gpt2")
    parser.add_argument("--max-requests", type=int, default=500, help="stop after this many requests")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="stop after this long")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--n-embd", type=int, default=64)
    parser.add_argument("--n-head", type=int, default=2)
    parser.add_argument("--vocab-size", type=int, default=1000)
    parser.add_argument("--n-positions", type=int, default=256)
    parser.add_argument("--api-key", default=None, help="require this bearer token on /v1 routes")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    generator = TinyGenerator(args.n_layer, args.n_embd, args.n_head, args.vocab_size, args.n_positions, args.device)
    server = TinyServer((args.host, args.port), generator, args.model_name, args.max_requests, args.api_key)
    timer = threading.Timer(args.max_seconds, server.shutdown)
    timer.daemon = True
    timer.start()
    host, port = server.server_address[:2]
    print(f"LISTENING http://{host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        timer.cancel()
        server.server_close()
    print(f"STOPPED after {server.completed} requests", flush=True)
    return 0


@contextlib.contextmanager
def running_server(*args: str, python: str = sys.executable, startup_timeout_s: float = 120.0) -> Iterator[str]:
    """Starts this server in a subprocess on a free loopback port; yields its base URL.

    Args:
        args: extra command-line arguments (e.g. ``"--max-requests", "50"``).
        python: interpreter to run it with.
        startup_timeout_s: how long to wait for the LISTENING line.
    """
    with tempfile.TemporaryFile(mode="w+") as stderr:
        process = subprocess.Popen(
            [python, __file__, "--host", "127.0.0.1", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            first_line: list[str] = []
            reader = threading.Thread(target=lambda: first_line.append(process.stdout.readline()), daemon=True)
            reader.start()
            reader.join(startup_timeout_s)
            if not first_line or not first_line[0].startswith("LISTENING "):
                stderr.seek(0)
                raise RuntimeError(f"tiny server did not start: {first_line!r}\n{stderr.read()[-2000:]}")
            yield first_line[0].split()[1]
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()


if __name__ == "__main__":
    sys.exit(main())
