"""The target registry: one declaration per figure an answer gives, read by everything else.

Each :class:`Target` says its unit, what produces it (the step model and scheduler, a CatBoost
primitive, or an identity of other targets), which measured rows label it, and -- for derived
targets -- its identity, written once as code (:class:`Expr`); the text that ``predict`` prints
and the README shows is generated from that same expression, so code and words cannot drift.
Training, ``predict``, ``--explain``, the CLI, ``recommend`` and the docs read this module.

Adding a learned target: declare it here (unit, producer, ``learned``, label rule, workload needs,
physics offset, description), select its column in the dbt training rows, and add its tests; see
the README's "How to extend".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping

import numpy as np

Producer = Literal["step_model", "catboost", "identity"]


class Expr:
    """A small arithmetic expression over named arrays: evaluated as code, printed as text."""

    def __init__(self, text: str, fn, precedence: int = 3):
        self.text, self._fn, self.precedence = text, fn, precedence

    def __call__(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """Evaluates the expression on arrays (or numbers) named as in the expression."""
        return self._fn(values)

    def __str__(self) -> str:
        return self.text

    @staticmethod
    def _wrap(other: Expr | float) -> Expr:
        return other if isinstance(other, Expr) else Expr(f"{other:g}", lambda v, c=float(other): c)

    def _op(self, other: Expr | float, symbol: str, fn, precedence: int, right: bool = False) -> Expr:
        a, b = (self._wrap(other), self) if right else (self, self._wrap(other))
        left = a.text if a.precedence >= precedence else f"({a.text})"
        # the right operand of - and / needs brackets at equal precedence too
        strict = symbol in ("-", "/")
        right_text = b.text if b.precedence > precedence or (b.precedence == precedence and not strict) else f"({b.text})"
        return Expr(f"{left} {symbol} {right_text}", lambda v: fn(a(v), b(v)), precedence)

    def __add__(self, other):
        return self._op(other, "+", lambda x, y: x + y, 1)

    def __sub__(self, other):
        return self._op(other, "-", lambda x, y: x - y, 1)

    def __mul__(self, other):
        return self._op(other, "*", lambda x, y: x * y, 2)

    def __truediv__(self, other):
        return self._op(other, "/", lambda x, y: x / y, 2)

    def __radd__(self, other):
        return self._op(other, "+", lambda x, y: x + y, 1, right=True)

    def __rmul__(self, other):
        return self._op(other, "*", lambda x, y: x * y, 2, right=True)

    def names(self) -> set[str]:
        """The names the expression reads (from its text)."""
        import re

        return set(re.findall(r"[a-z_][a-z0-9_]*", self.text))


def sym(name: str) -> Expr:
    """A named quantity in an expression."""
    return Expr(name, lambda v: v[name])


@dataclass(frozen=True)
class Target:
    """One figure an answer gives.

    Attributes:
        name: column name (units in the name).
        unit: unit as printed.
        producer: the step model and scheduler, a CatBoost primitive, or an identity.
        description: what it means, in one sentence.
        label_rule: which measured rows train or score it.
        identity: for ``identity`` targets, the expression it is (per regime where it differs).
        power_basis: needs measured power (never trained on estimates).
        learned: a CatBoost primitive: one predictor each (a training partition); every other answer
            follows from the primitives and the step model.
        workload_needs: the workload lengths a row must state to train or score it (``input``: prompt
            tokens, 0 allowed; ``output``: generated tokens); None = not a row-usage rule target.
        physics_offset: the physical baseline the CatBoost predictor is offset by:
            (numerator features, denominator features), the baseline being prod(numerators) /
            prod(denominators) (a tuple entry is summed); None = no CatBoost baseline.
        short: the target's name in one-line summaries (``sweep``'s row-usage table).
    """

    name: str
    unit: str
    producer: Producer
    description: str
    label_rule: str
    identity: Mapping[str, Expr] | None = None
    power_basis: bool = False
    learned: bool = False
    workload_needs: tuple[str, ...] | None = None
    physics_offset: tuple[tuple[str | tuple[str, ...], ...], tuple[str, ...]] | None = None
    short: str = ""

    def identity_text(self, regime: str = "closed") -> str | None:
        """The identity as text (generated from the expression), or None for a produced target."""
        if not self.identity:
            return None
        expr = self.identity.get(regime) or next(iter(self.identity.values()))
        return str(expr)


ttft, tpot, out = sym("ttft_s"), sym("tpot_s"), sym("output_tokens")
e2e, thr, power = sym("e2e_latency_s"), sym("output_throughput_tok_s"), sym("avg_power_w")

#: Every answer target, in the order answers list them.
REGISTRY: dict[str, Target] = {t.name: t for t in (
    Target("ttft_s", "s", "step_model",
           "time to the first token: the batch's prefill offline; queue, half a step and the prompt's chunks "
           "when serving",
           "rows that measured TTFT with a prompt length",
           learned=True, workload_needs=("input",), physics_offset=(("roofline_ttft_s",), ()), short="ttft"),
    Target("tpot_s", "s", "step_model",
           "mean time per output token after the first: one engine step with the prefills interleaved",
           "rows that measured a mean TPOT (serving rows also need the prompt length)",
           learned=True, workload_needs=("output",), physics_offset=(("roofline_tpot_s",), ()), short="tpot"),
    Target("itl_p50_s", "s", "step_model",
           "median inter-token latency: the plain decode step unless most steps carry a prefill chunk",
           "rows whose source states a median ITL (or a TPOT given as a median)", short="itl"),
    Target("e2e_latency_s", "s", "identity", "one request's latency, first token to last",
           "rows that measured e2e where TTFT or TPOT is missing",
           identity={"closed": ttft + (out - 1) * tpot}, workload_needs=("input", "output"),
           physics_offset=(("roofline_e2e_s",), ()), short="e2e"),
    Target("output_throughput_tok_s", "tok/s", "identity",
           "generated tokens per second of the whole deployment",
           "rows that measured throughput where no latency pins them (never an open loop below capacity)",
           identity={"closed": sym("in_flight") * out / e2e,
                     "saturation": sym("running_batch") * sym("replicas") / tpot,
                     "open_loop": sym("request_rate_rps") * out},
           workload_needs=("output",), physics_offset=(("roofline_output_throughput_tok_s",), ()), short="tput"),
    Target("avg_power_w", "W", "catboost", "average power of the devices over the run",
           "rows with measured power (never an estimate)", power_basis=True,
           learned=True, workload_needs=(), physics_offset=(("tdp_total_w",), ()), short="power"),
    Target("energy_per_output_token_j", "J/token", "identity", "energy per generated token",
           "rows with measured power and a throughput", identity={"closed": power / thr}, power_basis=True,
           workload_needs=("output",), physics_offset=(("tdp_total_w",), ("roofline_output_throughput_tok_s",)),
           short="J/tok"),
    Target("peak_memory_gb", "GB", "catboost", "peak memory the run took (weights, KV cache, activations)",
           "rows that measured peak memory", learned=True, workload_needs=("input", "output"),
           physics_offset=((("weights_gb", "kv_cache_gb", "activation_gb", "runtime_memory_gb"),), ()), short="mem"),
)}

#: The targets the step model and scheduler produce (and the identities built on them).
STEP_TARGETS = tuple(n for n, t in REGISTRY.items() if t.producer == "step_model")
IDENTITY_TARGETS = tuple(n for n, t in REGISTRY.items() if t.producer == "identity")
UNITS = {n: t.unit for n, t in REGISTRY.items()}
#: The CatBoost primitives (one predictor and training partition each), in registry order.
LEARNED_TARGETS = tuple(n for n, t in REGISTRY.items() if t.learned)


def identity_texts(regime: str = "closed") -> dict[str, str]:
    """``{target: "identity as text"}`` for every derived target (what ``predict`` prints beside it)."""
    return {n: t.identity_text(regime) for n, t in REGISTRY.items() if t.identity}
