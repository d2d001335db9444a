"""The layout of a multi-device question: which device counts can shard a model, and join.

Tensor parallel must divide the model's attention heads; more than one device needs a known
interconnect bandwidth (a missing fact is null, never guessed); past one node the network between
nodes must be known. :func:`inference_estimation.lib.physics.refusals.setup_refusals` asks these
rules; an answer past one node carries :func:`node_note`.
"""

from __future__ import annotations

from inference_estimation.constants import DEFAULT_DEVICES_PER_NODE
from inference_estimation.lib.catalog import HardwareEntry, ModelEntry
from inference_estimation.lib.physics.memory import DEVICE_COUNTS


def tensor_parallel_problem(model: ModelEntry, tensor_parallel: int) -> str | None:
    """Why ``tensor_parallel`` devices cannot shard the model's attention, or None when they can.

    Engines (vLLM, SGLang, TensorRT-LLM) give every device the same number of attention heads, so
    the device count must divide ``heads``; KV heads are split when there are more of them than
    devices (the count must divide them) and replicated when there are fewer (the count must be a
    multiple of them).
    """
    a = model.architecture
    if a is None or tensor_parallel <= 1:
        return None
    if a.heads % tensor_parallel:
        return f"{tensor_parallel} does not divide its {a.heads} attention heads"
    if tensor_parallel < a.kv_heads and a.kv_heads % tensor_parallel:
        return f"{tensor_parallel} does not divide its {a.kv_heads} KV heads"
    if tensor_parallel > a.kv_heads and tensor_parallel % a.kv_heads:
        return (f"{tensor_parallel} is not a multiple of its {a.kv_heads} KV heads (fewer KV heads than devices "
                "are replicated, each to the same number of devices)")
    return None


def tensor_parallel_sizes(model: ModelEntry, counts: tuple[int, ...] = DEVICE_COUNTS) -> tuple[int, ...]:
    """The device counts of ``counts`` that can shard the model's attention (:func:`tensor_parallel_problem`)."""
    return tuple(c for c in counts if tensor_parallel_problem(model, c) is None)


def tensor_parallel_refusal(model: ModelEntry, tensor_parallel: int) -> str | None:
    """The refusal of a tensor-parallel layout the model's heads cannot be sharded over, or None."""
    problem = tensor_parallel_problem(model, tensor_parallel)
    if problem is None:
        return None
    sizes = [c for c in range(1, max(DEVICE_COUNTS) + 1) if tensor_parallel_problem(model, c) is None]
    return (f"cannot run: tensor parallel over {tensor_parallel} devices does not fit {model.key}'s attention "
            f"({problem}; engines shard heads evenly over the devices); device counts that can: "
            f"{', '.join(map(str, sizes))}")


def devices_per_node(hardware: HardwareEntry) -> int | None:
    """Devices one node of ``hardware`` joins by its interconnect (None for CPUs: not judged)."""
    if hardware.kind == "cpu":
        return None
    return hardware.specs.devices_per_node or DEFAULT_DEVICES_PER_NODE


def join_problem(hardware: HardwareEntry) -> str | None:
    """Why devices of ``hardware`` cannot be joined into one tensor-parallel setup, or None when they can.

    Tensor-parallel collectives are costed at the catalog's ``interconnect_bandwidth_gb_s``; where it
    is unknown the cost would be a guess (a missing fact is null, never guessed). Apple GPUs are one
    per machine, and transformers (their engine here) does not shard a model across machines. CPUs
    are not judged (their count is sockets).
    """
    specs = hardware.specs
    if hardware.kind == "cpu" or specs.interconnect_bandwidth_gb_s is not None:
        return None
    if hardware.kind == "mps":
        return "an Apple GPU is one per machine and transformers does not shard a model across machines"
    if specs.interconnect is None:
        return (f"the catalog names no multi-device interconnect for {hardware.key} (add interconnect and "
                "interconnect_bandwidth_gb_s in a catalog overlay)")
    return (f"interconnect bandwidth unknown for {hardware.key} ({specs.interconnect}): add it in a catalog "
            "overlay (field interconnect_bandwidth_gb_s)")


def interconnect_refusal(hardware: HardwareEntry, device_count: int) -> str | None:
    """The refusal of ``device_count`` > 1 devices of ``hardware`` that cannot be joined (:func:`join_problem`)."""
    problem = join_problem(hardware) if device_count > 1 else None
    if problem is None:
        return None
    return (f"cannot run as asked: {device_count} x {hardware.key} needs its devices joined for tensor parallel, "
            f"and {problem}; only 1 device is answered")


def node_refusal(hardware: HardwareEntry, device_count: int) -> str | None:
    """Why ``device_count`` devices of ``hardware`` cannot be answered past one node, or None.

    Past one node the collectives cross the network between nodes; a figure is given only when the
    catalog names that network (``specs.scale_out_interconnect`` and its bandwidth) and the nodes
    are full, so the answer can say how many nodes and over what.
    """
    per_node = devices_per_node(hardware)
    if per_node is None or device_count <= per_node:
        return None
    specs = hardware.specs
    if device_count % per_node:
        return (f"cannot run as asked: {device_count} x {hardware.key} does not fill whole nodes of {per_node} "
                f"devices; use a multiple of {per_node}, or at most {per_node} (one node)")
    nodes = device_count // per_node
    if specs.scale_out_interconnect is None or specs.scale_out_bandwidth_gb_s is None:
        return (f"not answered: {device_count} x {hardware.key} spans {nodes} nodes of {per_node}, and the catalog "
                f"names no network between its nodes (specs.scale_out_interconnect and scale_out_bandwidth_gb_s), so "
                f"the collectives' cost would be a guess; ask for at most {per_node} devices (one node, "
                f"{specs.interconnect or 'its interconnect'}) or add both facts in a hardware overlay")
    return None


def node_note(hardware: HardwareEntry, device_count: int) -> str | None:
    """The sentence an answer past one node carries (node count and network), or None within a node."""
    per_node = devices_per_node(hardware)
    if per_node is None or device_count <= per_node or node_refusal(hardware, device_count):
        return None
    specs = hardware.specs
    return (f"{device_count} x {hardware.key} = {device_count // per_node} nodes of {per_node} "
            f"({specs.interconnect or 'interconnect unknown'} inside a node), joined by "
            f"{specs.scale_out_interconnect} at {specs.scale_out_bandwidth_gb_s:g} GB/s per device: "
            "tensor-parallel collectives are costed at that bandwidth")


def layout_counts(model: ModelEntry, hardware: HardwareEntry) -> tuple[int, ...]:
    """The counts of :data:`DEVICE_COUNTS` the model's heads can be sharded over (all on a CPU; one
    where the device cannot be joined to others, :func:`join_problem`)."""
    if hardware.kind == "cpu":
        return DEVICE_COUNTS
    if join_problem(hardware) is not None:
        return (1,)
    return tensor_parallel_sizes(model)
