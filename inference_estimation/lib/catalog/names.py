"""Names as people write them: resolve a model or hardware spelling to one catalog key, or refuse.

The catalog's exact names (key, ``hf_id``, ``device_name``, aliases; case-insensitive) always win.
Past them, a spelling is read by its tokens:

* **Models** -- a Hugging Face id's organisation is dropped, separators and letter/digit
  boundaries are ignored (``Llama3.1-8B`` = ``llama-3.1-8b``), then packaging words are dropped
  (``-Instruct``, ``-Chat``, ``-hf``, ``-it``, ``-Base``, ``-Thinking`` and quantisation suffixes
  ``-FP8``/``-AWQ``/``-GPTQ``/``-FP4-v2``...), then release dates (``-2507``, ``-0528``). Each
  step is tried only when the previous one found nothing, and a step that leads to two entries
  refuses, naming both. Versions (``v0.1`` vs ``v0.3``, ``V3`` vs ``R1``) are never dropped:
  they tell models apart.
* **Hardware** -- the device's model tokens (``H100``, ``MI300X``, ``RTX 6000 Ada``; taken from
  the catalog keys) must appear in the spelling; memory size (``80GB``, within 8 %), form factor
  (SXM/PCIe/NVL, ``HGX``/``DGX`` = SXM), memory type (HBM3 vs HBM3e) and a device count
  (``8x``) then pick among that model's entries. One rule for a name that fits several entries,
  everywhere: a name means the socketed part unless it says otherwise (``H100`` and ``A100
  40GB`` are the SXM parts), and a memory size is never guessed (``A100``, ``V100``, ``GH200``
  and ``Jetson Orin Nano`` come in two sizes: refused, listing every one). A word the reader does
  not know (``H100 NVL2``, ``M1 Pro``) also refuses: a guess is never returned as a resolution.

Suggestions for a refused name stay within the family and generation its naming tokens say: a
model number is a different device when its digits differ (``H20`` is not the ``H200``, ``B100``
not the ``B200``, ``H800`` not the ``H100``, ``T3K`` not the ``T4``) or when a letter next to
them differs (``MI300A`` is not the ``MI300X``, ``TPU v5p`` not the ``v5e``); a model's words
and size (``Phi-3 mini``, ``starcoder2 16b``) must all be in a suggestion, its context length
and release version aside (``128k`` vs ``4k``, ``v0.2`` vs ``v0.1``). A
letter O typed for a zero after a digit (``L4OS``) is read as the zero for a suggestion, never as
a resolution. Nothing close means no suggestion: the caller then says how to add the entry.

Index building costs a few milliseconds per catalog; :class:`NameIndex` objects are cached on
the catalog by the caller.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

#: Most candidates a refusal lists.
MAX_CANDIDATES = 3
#: Relative tolerance when a spelling's memory size is compared with an entry's ``memory_gb``
#: (vendors round: H100 NVL 94 vs "96GB", B200 180 vs "192GB", GB200 186 vs "192GB").
MEMORY_TOLERANCE = 0.08


@dataclass(frozen=True)
class Resolution:
    """What a lookup found.

    Attributes:
        key: the resolved key, or None when refused.
        candidates: keys to suggest, best first (empty when resolved).
        reason: why it was refused ("unknown", "ambiguous", or a word the reader did not know).
    """

    key: str | None
    candidates: tuple[str, ...] = ()
    reason: str = ""
    #: the device count the spelling states ("8x H200" -> 8), None when it states none; the key is
    #: an entry of that many devices where the catalog has one (``...-x8``), else the single device
    count: int | None = None


# ----------------------------------------------------------------------------------- tokenising
_SPLIT = re.compile(r"[^a-z0-9]+")
_ALNUM_RUNS = re.compile(r"[a-z]+|\d+(?:\.\d+)?")


# --------------------------------------------------------------------------------------- models
#: Packaging words of a checkpoint's name: same architecture and size with or without them.
_MODEL_PACKAGING = frozenset({
    "instruct", "chat", "it", "hf", "base", "pt", "thinking", "awq", "gptq", "gguf", "bnb", "4bit", "8bit",
    "dynamic", "kv", "quantized", "nf4", "bf16", "fp16", "fp32",
})
#: Quantisation parts: FP8, FP4, NVFP4, MXFP4, INT4, W4A16, Q4_K_M (GGUF types, read as one part)...
_QUANT_PART = re.compile(r"^(fp|int|nvfp|mxfp|uint)\d+$|^w\d+a\d+$|^awq$|^gptq$|^i?q\d(k[sml]?|[01]|xx?s|nl)?$")
_GGUF_TYPE = re.compile(r"(?<![a-z0-9])i?q\d_(k_[sml]|k|[01]|xx?s|nl)(?![a-z0-9])")
_VERSION_PART = re.compile(r"^v\d+$")
_DATE = re.compile(r"^\d{4}$")
#: A pinned revision after the name (Replicate's ``meta/llama-2-7b-chat:13c3cd...``).
_REVISION = re.compile(r":[0-9a-f]{16,}$")
#: A context-length variant (``4k``, ``128k``): the same model with a longer window, a suggestion.
_CONTEXT = re.compile(r"^\d+k$")
_SIZE = re.compile(r"^(\d+x)?\d+(\.\d+)?[bmk]$|^a?\d+b$|^\d+e$")


def _split_ld(parts: list[str]) -> str:
    """Joins parts after splitting them at letter-to-digit boundaries (``llama3`` = ``llama 3``)."""
    return " ".join(p for part in parts for p in re.split(r"(?<=[a-z])(?=\d)", part) if p)


def model_levels(name: str) -> tuple[str, str, str]:
    """The three normalised forms of a model spelling, most specific first.

    1. the name without its organisation, separators ignored;
    2. without packaging words (instruct/chat/hf/it/base/thinking, quantisation suffixes and a
       version right after them: ``-FP4-v2``) and a leading ``Meta-``;
    3. without release dates (``2507``, ``0528``) as well.
    """
    base = _REVISION.sub("", name.strip().lower()).rsplit("/", 1)[-1]
    base = _GGUF_TYPE.sub(lambda m: m.group(0).replace("_", ""), base)  # "Q4_K_M" is one part
    parts = [p for p in _SPLIT.split(base) if p]
    packaged: list[str] = []
    after_quant = False
    for part in parts:
        if part in _MODEL_PACKAGING or _QUANT_PART.match(part) or (after_quant and _VERSION_PART.match(part)):
            after_quant = after_quant or bool(_QUANT_PART.match(part))
            continue
        after_quant = False
        packaged.append(part)
    if len(packaged) > 2 and packaged[0] == "meta":  # "Meta-Llama-3-8B" = "Llama-3-8B"
        packaged = packaged[1:]
    undated = [p for p in packaged if not _DATE.match(p)]
    return _split_ld(parts), _split_ld(packaged), _split_ld(undated)


def _token_weight(tok: str) -> float:
    if _SIZE.match(tok):
        return 4.0
    return 2.0 if any(c.isdigit() for c in tok) else 1.0


def _similarity(query: set[str], name: set[str]) -> float:
    union = query | name
    if not union:
        return 0.0
    return sum(_token_weight(t) for t in query & name) / sum(_token_weight(t) for t in union)


def _rank(query: set[str], plain: str, keys, spellings: dict[str, list[tuple[set[str], str]]],
          limit: int | None = MAX_CANDIDATES) -> tuple[str, ...]:
    """Keys ordered by: same first word (the family), weighted token overlap, string similarity."""
    family = plain.split(" ", 1)[0]

    def score(key: str) -> tuple[bool, float, float]:
        return max((text.split(" ", 1)[0] == family, _similarity(query, toks),
                    difflib.SequenceMatcher(None, plain, text).ratio()) for toks, text in spellings[key])

    scored = sorted(((score(k), k) for k in keys), key=lambda sk: (-sk[0][0], -sk[0][1], -sk[0][2], sk[1]))
    return tuple(k for (_, sim, ratio), k in scored if sim > 0 or ratio >= 0.5)[:limit]


@dataclass
class ModelIndex:
    """Normalised model names -> keys, per level; built once per catalog."""

    exact: dict[str, str]
    levels: tuple[dict[str, set[str]], ...]
    spellings: dict[str, list[tuple[set[str], str]]]

    @classmethod
    def build(cls, table: dict[str, Any], names_of) -> ModelIndex:
        """Indexes every key, ``hf_id`` and alias of a model table."""
        exact: dict[str, str] = {}
        levels: tuple[dict[str, set[str]], ...] = ({}, {}, {})
        spellings: dict[str, list[tuple[set[str], str]]] = {}
        for key, entry in table.items():
            spellings[key] = []
            for spelling in [key, *names_of(entry)]:
                exact.setdefault(spelling.strip().lower(), key)
                forms = model_levels(spelling)
                spellings[key].append((set(forms[2].split()), forms[0]))
                for level, form in zip(levels, forms, strict=False):
                    if form:
                        level.setdefault(form, set()).add(key)
        return cls(exact=exact, levels=levels, spellings=spellings)

    def resolve(self, name: str) -> Resolution:
        """Resolves a model spelling (see the module docstring)."""
        wanted = name.strip().lower()
        if wanted in self.exact:
            return Resolution(self.exact[wanted])
        forms = model_levels(name)
        query = set(forms[2].split())
        for level, form in zip(self.levels, forms, strict=False):
            keys = level.get(form)
            if keys and len(keys) == 1:
                return Resolution(next(iter(keys)))
            if keys:
                return Resolution(None, _rank(query, forms[0], keys, self.spellings, None), "ambiguous")
        # only models that carry every word of the spelling, its context length and release
        # version aside (``128k`` -> ``4k``, ``v0.2`` -> ``v0.1``/``v0.3``): same family and size
        required, in_version = set(), False
        for word in forms[2].split():  # a version is spelt "v 0 2" here
            in_version = word == "v" or (in_version and word.isdigit())
            if not in_version and not _CONTEXT.match(word):
                required.add(word)
        close = [k for k, spellings in self.spellings.items() if required and any(required <= toks for toks, _ in spellings)]
        return Resolution(None, _rank(query, forms[0], close, self.spellings), "unknown")


# ------------------------------------------------------------------------------------- hardware
#: Words that say nothing about which device it is (vendor, marketing, generation names).
_HW_FILLER = frozenset({
    "nvidia", "amd", "intel", "google", "apple", "habana", "labs", "tesla", "geforce", "quadro", "instinct",
    "radeon", "gpu", "gpus", "graphics", "accelerator", "tensor", "core", "data", "center", "datacenter",
    "edition", "generation", "superchip", "grace", "hopper", "blackwell", "ampere", "volta", "turing",
    "lovelace", "ada", "cloud", "virtualized", "cts", "mega", "module", "card", "oam", "nvlink", "chip",
    "spx", "cpx", "nps", "with", "memory", "vram", "ai", "r", "tm", "series", "the", "developer", "kit",
    "jetson", "tenstorrent", "wormhole", "blackhole",
})
_VENDOR_WORDS = {"nvidia": "nvidia", "tesla": "nvidia", "geforce": "nvidia", "quadro": "nvidia",
                 "amd": "amd", "instinct": "amd", "radeon": "amd", "intel": "intel", "habana": "intel",
                 "google": "google", "apple": "apple"}
_FORM_WORDS = {"sxm": "sxm", "pcie": "pcie", "pci": "pcie", "nvl": "nvl", "hgx": "sxm", "dgx": "sxm"}
_MEMORY_TYPES = ("hbm", "gddr", "lpddr")
#: Form factors in the order a refusal lists them (the socketed part first, as the bare name means).
_FORM_RANK = {"sxm": 0, None: 1, "nvl": 2, "pcie": 3}


@dataclass
class HardwareQuery:
    """What a hardware spelling says: its tokens (``used`` marks those read as facts below)."""

    tokens: list[str]
    used: list[bool]
    vendor: str | None = None
    form: str | None = None
    memory_gb: float | None = None
    memory_type: str | None = None
    count: int | None = None
    #: the SXM socket generation when given ("SXM2", "SXM4"): V100 SXM2 and SXM3 are different parts
    socket: str | None = None
    #: every (token index, GB) read as a memory size: one inside the device's own name ("A10G") is not
    memories: list[tuple[int, float]] = field(default_factory=list)


def _is_number(tok: str) -> bool:
    return tok.replace(".", "", 1).isdigit()


def parse_hardware(text: str) -> HardwareQuery:
    """Splits a hardware spelling into tokens and reads memory, form factor, memory type and count."""
    cleaned = re.sub(r"\((r|tm)\)", " ", text.lower()).replace("+", " plus ").replace("\u00d7", " x ")
    cleaned = re.sub(r"^\s*(\d+)\s*[x*](?=\s*[a-z])", r"\1 x ", cleaned)  # "8xH100", "8*H100" = "8x H100"
    tokens = _ALNUM_RUNS.findall(cleaned)
    q = HardwareQuery(tokens=tokens, used=[False] * len(tokens))
    n = len(tokens)

    def nxt(j: int) -> str:
        return tokens[j] if j < n else ""

    def use(i: int, width: int) -> int:
        for j in range(i, min(i + width, n)):
            q.used[j] = True
        return i + width

    i = 0
    while i < n:
        tok = tokens[i]
        if _is_number(tok) and nxt(i + 1) in ("gb", "g", "gib"):
            q.memory_gb = q.memory_gb or float(tok)
            q.memories.append((i, float(tok)))
            i = use(i, 2)
        elif _is_number(tok) and nxt(i + 1) in ("w", "core", "cores", "tb"):
            i = use(i, 2)
        elif tok in ("aarch", "arm") and nxt(i + 1) == "64":  # the host CPU's architecture
            i = use(i, 2)
        elif tok == "blackwell" and nxt(i + 1) == "ultra":  # B300/GB300's generation name
            i = use(i, 2)
        elif i == 0 and tok.isdigit() and nxt(1) == "x":  # "8x H100", "2 x A100": a device count
            q.count = int(tok)
            i = use(i, 2)
        elif i == n - 2 and i > 0 and tok == "x" and nxt(i + 1).isdigit():  # "H200 x8", "H200 x 8"
            q.count = int(nxt(i + 1))
            i = use(i, 2)
        elif tok in _MEMORY_TYPES and nxt(i + 1).isdigit():
            suffix = nxt(i + 2) if nxt(i + 2) in ("e", "x") else ""
            q.memory_type = q.memory_type or tok + nxt(i + 1) + suffix
            i = use(i, 3 if suffix else 2)
        elif tok in _FORM_WORDS:
            q.form = q.form or _FORM_WORDS[tok]
            j = use(i, 1)
            if tok == "pci" and nxt(j) == "e":
                j = use(j, 1)
            if nxt(j) == "gen":
                j = use(j, 1)
            # "SXM5", "PCIe 5.0", "NVL72" (a rack of GB200/GB300, not the NVL card)
            if tok == "nvl" and nxt(j) in ("36", "72", "144", "576"):
                q.form = None
                j = use(j, 1)
            elif _is_number(nxt(j)) and float(nxt(j)) < 10 and nxt(j + 1) not in ("gb", "g", "gib"):
                if tok == "sxm":
                    q.socket = q.socket or f"sxm{nxt(j)}"
                j = use(j, 1)
            i = j
        else:
            if tok in _VENDOR_WORDS:
                q.vendor = q.vendor or _VENDOR_WORDS[tok]
            i += 1
    return q


def _typo_fixed(text: str) -> str:
    """The spelling with a letter O typed after a digit read as a zero (``L4OS`` -> ``l40s``)."""
    return re.sub(r"(?<=\d)o", "0", text.strip().lower())


def _number_words(tokens: list[str]) -> list[tuple[str | None, str, str | None]]:
    """Each model number with the letters right before and after it (``MI300X`` -> mi, 300, x)."""
    out = []
    for i, tok in enumerate(tokens):
        if tok[0].isdigit():
            before = tokens[i - 1] if i and tokens[i - 1].isalpha() else None
            after = tokens[i + 1] if i + 1 < len(tokens) and tokens[i + 1].isalpha() else None
            out.append((before, tok, after))
    return out


def _same_family(query: list[str], entry: list[str]) -> bool:
    """Whether an entry's naming tokens are the same family and generation as a spelling's.

    Every model number of the spelling must be the entry's, with the same letters before it and,
    where the spelling has them, after it (``MI300`` fits ``MI300X``; ``MI300A``, ``H20``, ``B100``
    do not fit ``MI300X``, ``H200``, ``B200``). A spelling without numbers must have all its words
    in the entry's (``Gaudi`` fits ``Gaudi 3``, ``Orin Nano`` does not fit ``AGX Orin``).
    """
    numbers = _number_words(query)
    if not numbers:
        return bool(query) and set(query) <= set(entry)
    theirs = _number_words(entry)
    # "B200.8" (Oracle's bare-metal shape: eight B200) is read as the model number 200
    return all(any((n == m or ("." in n and "." not in m and n.split(".", 1)[0] == m))
                   and (b is None or b == mb) and (a is None or a == ma) for mb, m, ma in theirs)
               for b, n, a in numbers)


def _naming_tokens(q: HardwareQuery) -> list[str]:
    """The tokens that name the device: not read as a fact (memory, form, count), not filler."""
    return [t for t, used in zip(q.tokens, q.used, strict=False) if not used and t not in _HW_FILLER]


def _find(signature: tuple[str, ...], tokens: list[str]) -> int:
    size = len(signature)
    for start in range(len(tokens) - size + 1):
        if tuple(tokens[start:start + size]) == signature:
            return start
    return -1


@dataclass
class _HwEntry:
    key: str
    form: str | None
    socket: str | None
    memory_gb: float | None
    memory_type: str | None
    vendor: str
    count: int


def _key_facts(key: str) -> tuple[tuple[str, ...], str | None, str | None]:
    """The model tokens, form factor and SXM generation a hardware key names (``nvidia-a100-sxm4-80gb``)."""
    parts = key.split("-")[1:]
    forms = [re.sub(r"\d+$", "", p) for p in parts]
    form = next((_FORM_WORDS[f] for f in forms if f in ("sxm", "pcie", "nvl")), None)
    socket = next((p for p in parts if re.fullmatch(r"sxm\d", p)), None)
    kept = [p for p, f in zip(parts, forms, strict=False) if f not in ("sxm", "pcie", "nvl", "oam")
            and not re.fullmatch(r"\d+gb|x\d+", p)]
    return tuple(_ALNUM_RUNS.findall(" ".join(kept))), form, socket


@dataclass
class HardwareIndex:
    """Hardware entries grouped by model tokens (from their keys), plus the exact names."""

    exact: dict[str, str]
    #: the catalog's names as token strings ("nd gb 200 v 6"): separators and case do not matter
    exact_tokens: dict[str, str]
    groups: dict[tuple[str, ...], list[_HwEntry]]
    spellings: dict[str, list[tuple[set[str], str]]]
    #: per single-device entry, the naming tokens of each of its spellings (for suggestions)
    naming: dict[str, list[list[str]]]

    @classmethod
    def build(cls, table: dict[str, Any], names_of) -> HardwareIndex:
        """Indexes a hardware table (every entry but the probed local host)."""
        exact: dict[str, str] = {}
        exact_tokens: dict[str, set[str]] = {}
        groups: dict[tuple[str, ...], list[_HwEntry]] = {}
        spellings: dict[str, list[tuple[set[str], str]]] = {}
        naming: dict[str, list[list[str]]] = {}
        for key, entry in table.items():
            parsed = []
            for spelling in [key, *names_of(entry)]:
                exact.setdefault(spelling.strip().lower(), key)
                parsed.append(parse_hardware(spelling))
                exact_tokens.setdefault(" ".join(parsed[-1].tokens), set()).add(key)
            spellings[key] = [({t for t in p.tokens if t not in _HW_FILLER}, " ".join(p.tokens)) for p in parsed]
            if entry.vendor == "host":
                continue
            if entry.device_count == 1:
                naming[key] = [_naming_tokens(p) for p in parsed]
            signature, form, socket = _key_facts(key)
            types = {p.memory_type for p in parsed} - {None}
            groups.setdefault(signature, []).append(_HwEntry(
                key=key, form=form, socket=socket, memory_gb=entry.specs.memory_gb,
                memory_type=types.pop() if len(types) == 1 else None, vendor=entry.vendor,
                count=entry.device_count))
        unique = {text: keys.pop() for text, keys in exact_tokens.items() if len(keys) == 1}
        return cls(exact=exact, exact_tokens=unique, groups=groups, spellings=spellings, naming=naming)

    def resolve(self, name: str, single: bool = False) -> Resolution:
        """Resolves a hardware spelling (see the module docstring).

        ``single``: a counted spelling (``8x H100``) resolves to the one-device entry and the count,
        even where the catalog has an entry of that many devices (a node, reachable by its key):
        a question about N devices is the same question however it is spelled.
        """
        found = self._resolve(name, single)
        if found.key is None and found.reason != "ambiguous" and (fixed := _typo_fixed(name)) != name.strip().lower():
            retry = self._resolve(fixed, single)
            if retry.key is not None:  # "L4OS": the L40S is suggested, never taken
                return Resolution(None, (retry.key,), "unknown")
        return found

    def _matches(self, tokens: list[str], without_filler: bool = False) -> list[tuple[int, int, tuple[str, ...]]]:
        """The groups whose model tokens appear in a spelling, the longest where they overlap.

        ``without_filler`` matches the model tokens less their generation words (``blackhole p150``
        as ``p150``) against a spelling whose filler words were taken out.
        """
        found = []
        for sig in self.groups:
            wanted = tuple(t for t in sig if t not in _HW_FILLER) if without_filler else sig
            if wanted and (start := _find(wanted, tokens)) >= 0:
                found.append((start, start + len(wanted), sig))
        # where matches overlap, the longest wins ("L40S" over "L40", "M1 Max" over "M1")
        return [m for m in found if not any(o[0] <= m[0] and m[1] <= o[1] and o[1] - o[0] > m[1] - m[0]
                                            for o in found)]

    def _resolve(self, name: str, single: bool = False) -> Resolution:
        wanted = name.strip().lower()
        if wanted in self.exact:
            return Resolution(self.exact[wanted])
        q = parse_hardware(name)
        if " ".join(q.tokens) in self.exact_tokens:
            return Resolution(self.exact_tokens[" ".join(q.tokens)])
        found = self._matches(q.tokens)
        if not found:  # generation words in another order ("p150 (Blackhole)", "Orin Nano")
            kept = [j for j, t in enumerate(q.tokens) if t not in _HW_FILLER]
            q = HardwareQuery(tokens=[q.tokens[j] for j in kept], used=[q.used[j] for j in kept], vendor=q.vendor,
                              form=q.form, memory_gb=q.memory_gb, memory_type=q.memory_type, count=q.count,
                              socket=q.socket, memories=[(kept.index(j), gb) for j, gb in q.memories])
            found = self._matches(q.tokens, without_filler=True)
        if not found:
            naming = _naming_tokens(q)
            close = [k for k, spellings in self.naming.items() if any(_same_family(naming, e) for e in spellings)]
            return Resolution(None, _rank(set(naming), " ".join(q.tokens), close, self.spellings), "unknown")
        if len(found) > 1:
            keys = [e.key for m in found for e in self.groups[m[2]] if e.count == 1]
            return Resolution(None, tuple(keys[:MAX_CANDIDATES]), "names several devices")
        start, end, signature = found[0]
        # "10G" inside "A10G" is the device's name, not its memory: the first size outside it counts
        q.memory_gb = next((gb for j, gb in q.memories if not start <= j < end), None)
        unknown = [t for j, (t, u) in enumerate(zip(q.tokens, q.used, strict=False))
                   if not u and not start <= j < end and t not in _HW_FILLER]
        group = [e for e in self.groups[signature] if e.count == (1 if single else q.count or 1)]
        if not group:  # "8x H200": one H200 entry, and 8 of them (the answer's device count)
            group = [e for e in self.groups[signature] if e.count == 1]
        found_one = self._resolve_in(q, group, unknown)
        return Resolution(found_one.key, found_one.candidates, found_one.reason,
                          count=q.count if found_one.key else None)

    def _resolve_in(self, q: HardwareQuery, group: list[_HwEntry], unknown: list[str]) -> Resolution:
        """Picks one entry of a device's group by the spelling's vendor, form, socket and memory facts."""
        members = [e for e in group if (not q.vendor or e.vendor == q.vendor)
                   and (not q.form or e.form in (q.form, None))
                   and (not q.socket or not e.socket or e.socket == q.socket)
                   and (q.memory_gb is None or e.memory_gb is None
                        or abs(e.memory_gb - q.memory_gb) <= MEMORY_TOLERANCE * e.memory_gb)]
        if q.memory_type:
            same = [e for e in members if e.memory_type == q.memory_type]
            # "HBM3" is often written for HBM3e (H200); "HBM3e" on an HBM3 part contradicts it
            members = same or [e for e in members if e.memory_type is None or e.memory_type.startswith(q.memory_type)]
        if unknown:
            return Resolution(None, self._order(q, members or group), f"unknown word(s) {' '.join(unknown)!r}")
        if len(members) == 1:
            return Resolution(members[0].key)
        if not members:
            return Resolution(None, self._order(q, group), "no entry of that device has these facts")
        # one rule everywhere: the socketed part unless the spelling says otherwise; a memory size
        # is never guessed ("A100" could be 40 or 80 GB: asked, listing every entry)
        first = min(_FORM_RANK.get(e.form, 1) for e in members)
        socketed = [e for e in members if _FORM_RANK.get(e.form, 1) == first]
        if len(socketed) == 1:
            return Resolution(socketed[0].key)
        return Resolution(None, self._order(q, members, limit=None), "ambiguous")

    @staticmethod
    def _order(q: HardwareQuery, members: list[_HwEntry], limit: int | None = MAX_CANDIDATES) -> tuple[str, ...]:
        """Candidates best first: the form asked for, the closest memory, SXM before PCIe, smaller first."""
        def rank(e: _HwEntry) -> tuple:
            gap = abs(e.memory_gb - q.memory_gb) if q.memory_gb and e.memory_gb else 0.0
            return (bool(q.form) and e.form != q.form, gap, _FORM_RANK.get(e.form, 1), e.memory_gb or 0.0, e.key)

        return tuple(e.key for e in sorted(members, key=rank))[:limit]
