"""Gradient and parameter statistics of a torch model, every ``log_freq`` backward passes.

``Watcher(model, log="gradients", log_freq=100, include=None, exclude=None, on_stats=..., on_nonfinite=...)``
hooks the model's parameters; ``remove()`` takes the hooks off again. torch is imported when a ``Watcher``
is made, never with this module.

**Steps.** A step is one completed backward pass over the model. Each watched parameter gets a
``register_post_accumulate_grad_hook``; the first of them to fire in a backward pass queues a callback at the
end of that pass, which queues one more, so ours runs after every callback queued during the pass (under
``DistributedDataParallel``, after the reducer has averaged the gradients across ranks). That last callback
counts the step and, every ``log_freq`` steps, reads ``.grad`` (and/or the values) and calls ``on_stats``.
Nothing is computed on the other steps.

**Statistics** (``on_stats`` receives one dict), for each watched parameter ``n`` (the user's name: no
``module.`` prefix from DDP / DataParallel, no ``_orig_mod.`` from ``torch.compile``):

- ``gradients/{n}``: a ``tracker_core.media.Histogram`` of the finite values, 64 equal bins over their
  [min, max] (counts as ``numpy.histogram`` would give for those edges: the last bin includes its right
  edge); when all finite values are equal, v, the range is [v - 0.5, v + 0.5]. Left out when the tensor has
  no finite value at all.
- ``gradients/{n}.norm``: the L2 norm of the finite values (float). There is no separate "layer" norm: a
  layer's norms are its parameter tensors' norms (``fc1.weight``, ``fc1.bias``).
- ``gradients/{n}.nonfinite``: how many values are NaN or ±Inf, only when there are some; these are left
  out of the histogram and the norms, and the names of such parameters go to ``on_nonfinite(names, step)``.
- ``gradients/global_norm``: the L2 norm over all watched gradients' finite values (float).
- with ``log="parameters"`` or ``"all"``: ``parameters/{n}``, ``parameters/{n}.norm`` and
  ``parameters/{n}.nonfinite`` the same way from the values (no global norm, no ``on_nonfinite``).

Only parameters with ``requires_grad`` are watched. A parameter whose ``.grad`` is None at a logging step
(unused in that pass, or frozen) or is sparse is left out of the gradient statistics; empty parameters are
left out. Statistics are computed in float32 (a float64 parameter is binned at float32 precision).

**Cost.** Nothing is cloned and nothing is computed on steps that are not logged. On an accelerator,
everything is computed on the tensor's own device with torch ops, with no host synchronisation per tensor
(ranges by masked ``amin``/``amax``, bins by a binary search over the edges, counts by ``scatter_add_``),
then stacked and copied to the host once per device per logging step. On the CPU, reading the range back
costs nothing, so a cheaper exact path is taken: bins by arithmetic, chunk by chunk through small reused
buffers, with the binary search kept for the few values that float32 rounding could put in the
neighbouring bin. ``benchmarks/bench_watch.py`` measures the overhead.

**Not supported:** sharded parameters (FSDP's ``FlatParameter``, ``DTensor`` as in FSDP2 / tensor
parallel) raise ``ValueError`` when watched: their local shards would give wrong per-parameter numbers.

**Filtering.** ``include`` / ``exclude``: a glob (``fnmatch``, case-sensitive, ``*`` matches dots too), a
list of globs, or a callable ``name -> bool``, applied to the user's names; a parameter is watched when it
matches ``include`` (or ``include`` is None) and does not match ``exclude``. Keras 3 models on the torch
backend name their variables after Keras' internal layout (for example
``_functional._layers.1.kernel``-like paths); print ``[n for n, _ in model.named_parameters()]`` once and
filter with globs such as ``"*dense*"``.
"""

from __future__ import annotations

import fnmatch
import threading
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from tracker_core._errors import TrackerWarning

__all__ = ["Watcher", "models_to_watch", "prefixed"]

LOG_VALUES = ("gradients", "parameters", "all")
BINS = 64
_FILTER_HINT = "a glob string, a list of glob strings, or a callable taking a parameter name and returning bool"
_WRAPPERS = ("DistributedDataParallel", "DataParallel")

Filter = str | Sequence[str] | Callable[[str], bool] | None


_LOG_GRAPH_WARNING = ("tracker: watch(log_graph=True) is accepted for W&B and has no effect here: the model's "
                      "graph is not recorded (TrackerLogger(log_graph=True) records its summary)")
_warned_log_graph = False


def models_to_watch(models: Any, log: str | None, log_graph: object, idx: object = None) -> list[tuple[Any, str]]:
    """``watch``'s models as W&B takes them, each with the prefix of its statistics' names: one module or
    a list/tuple of modules; model ``i`` of the list (``idx + i`` when ``idx`` is given) after the first
    gets W&B's ``graph_<i>`` (``gradients/graph_1fc.weight``). None when ``log`` is None (W&B then records
    only the graph). ``log_graph=True`` warns once that no graph is recorded.

    Raises:
        ValueError: an empty list, or an ``idx`` or ``log_graph`` of the wrong type.
    """
    global _warned_log_graph
    if not isinstance(log_graph, bool):
        raise ValueError(f"log_graph={log_graph!r} is not a bool")
    if idx is not None and (type(idx) is not int or idx < 0):
        raise ValueError(f"idx={idx!r} is not an int >= 0")
    if log_graph and not _warned_log_graph:
        _warned_log_graph = True
        warnings.warn(_LOG_GRAPH_WARNING, TrackerWarning, stacklevel=3)
    listed = list(models) if isinstance(models, (list, tuple)) else [models]
    if not listed:
        raise ValueError("no model to watch: pass a torch module or a list of them")
    first = idx or 0
    return [] if log is None else [(model, f"graph_{first + i}" if first + i > 0 else "")
                                   for i, model in enumerate(listed)]


def prefixed(on_stats: Callable[[dict[str, Any]], None], prefix: str) -> Callable[[dict[str, Any]], None]:
    """``on_stats`` with ``prefix`` put after each key's ``gradients/`` or ``parameters/``, as W&B names a
    second model's statistics."""
    if not prefix:
        return on_stats

    def renamed(stats: dict[str, Any]) -> None:
        on_stats({kind + "/" + prefix + rest: value
                  for kind, rest, value in ((*key.split("/", 1), value) for key, value in stats.items())})

    return renamed


def _matcher(value: Filter, what: str) -> Callable[[str], bool] | None:
    if value is None:
        return None
    if isinstance(value, str):
        patterns: list[str] = [value]
    elif callable(value):
        return value
    elif isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        patterns = list(value)
    else:
        raise ValueError(f"watch {what}={value!r} is not accepted: expected {_FILTER_HINT}")
    return lambda name: any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _unwrap(model: Any) -> Any:
    while True:
        if hasattr(model, "_orig_mod") and type(model).__name__ == "OptimizedModule":
            model = model._orig_mod
        elif type(model).__name__ in _WRAPPERS and hasattr(model, "module"):
            model = model.module
        else:
            return model


def _user_name(name: str) -> str:
    return name.replace("_orig_mod.", "")


def _sharded(param: Any) -> bool:
    names = [cls.__name__ for cls in type(param).__mro__]
    return any("FlatParameter" in n or n == "DTensor" for n in names) or hasattr(param, "_local_tensor")


class Watcher:
    """Hooks on a torch model's parameters that report statistics every ``log_freq`` backward passes.

    Args:
        model: an ``nn.Module``, possibly wrapped by DDP / DataParallel or ``torch.compile``.
        log: ``"gradients"``, ``"parameters"`` or ``"all"``.
        log_freq: report every this many completed backward passes (int >= 1).
        include, exclude: which parameters to watch (see the module's docs).
        on_stats: called with the statistics dict on each logging step.
        on_nonfinite: called with the names of parameters whose gradient holds NaN/Inf, and the step.

    Attributes:
        steps: completed backward passes seen.
        computed: how many times statistics were computed.

    Raises:
        ValueError: a bad argument, no parameter to watch, or sharded parameters.
    """

    def __init__(self, model: Any, log: str | None = "gradients", log_freq: int = 100, include: Filter = None,
                 exclude: Filter = None, on_stats: Callable[[dict[str, Any]], None] | None = None,
                 on_nonfinite: Callable[[list[str], int], None] | None = None) -> None:
        if log not in LOG_VALUES:
            raise ValueError(f"watch log={log!r} is not accepted: expected one of {', '.join(map(repr, LOG_VALUES))}")
        if isinstance(log_freq, bool) or not isinstance(log_freq, int) or log_freq < 1:
            raise ValueError(f"watch log_freq={log_freq!r} is not accepted: expected an int >= 1")
        keep, drop = _matcher(include, "include"), _matcher(exclude, "exclude")
        import torch

        module = _unwrap(model)
        if not isinstance(module, torch.nn.Module):
            raise ValueError(f"watch model: got {type(model).__name__}, expected a torch.nn.Module "
                             "(optionally wrapped by DistributedDataParallel or torch.compile)")
        if "FullyShardedDataParallel" in type(module).__name__:
            raise ValueError("watch: FullyShardedDataParallel models are not supported (sharded parameters); "
                             "watch the model before sharding it on a single device, or don't watch it")
        selected: list[tuple[str, Any]] = []
        for raw, param in module.named_parameters():
            name = _user_name(raw)
            if not param.requires_grad or (keep is not None and not keep(name)) or (drop is not None and drop(name)):
                continue
            if _sharded(param):
                raise ValueError(f"watch: parameter {name!r} is sharded ({type(param).__name__}); sharded "
                                 "(FSDP / DTensor) parameters are not supported. Exclude it with exclude=")
            selected.append((name, param))
        if not selected:
            raise ValueError("watch: no parameter to watch (none requires grad, or include/exclude matched none); "
                             f"include/exclude take {_FILTER_HINT}")
        self.log, self.log_freq = log, log_freq
        self.steps = 0
        self.computed = 0
        self._on_stats = on_stats
        self._on_nonfinite = on_nonfinite
        self._names = [name for name, _ in selected]
        self._params = [weakref.ref(param) for _, param in selected]
        self._lock = threading.Lock()
        self._pending: set[int] = set()
        self._warned = False
        current = getattr(torch._C, "_current_graph_task_id", None)
        self._task_id: Callable[[], int] = (lambda: int(current())) if current is not None else (lambda: -1)
        self._engine = torch.autograd.Variable._execution_engine
        self._handles: list[Any] = [param.register_post_accumulate_grad_hook(self._on_grad) for _, param in selected]

    def remove(self) -> None:
        """Remove every hook (idempotent); the Watcher keeps no reference to the model afterwards."""
        handles, self._handles = self._handles, []
        for handle in handles:
            handle.remove()
        self._params = []

    def _on_grad(self, _param: Any) -> None:
        task = self._task_id()
        if task in self._pending:  # not the first gradient of this pass (a set lookup is atomic)
            return
        with self._lock:
            if task in self._pending:
                return
            if len(self._pending) > 64:  # passes that failed before their end-of-backward callbacks
                self._pending.clear()
            self._pending.add(task)
        engine = self._engine

        def end_of_backward() -> None:
            engine.queue_callback(lambda: self._step(task))  # runs after callbacks queued during the pass

        engine.queue_callback(end_of_backward)

    def _step(self, task: int) -> None:
        with self._lock:
            self._pending.discard(task)
            self.steps += 1
            step = self.steps
        if step % self.log_freq or not self._handles:
            return
        try:
            self._report(step)
        except Exception as error:  # noqa: BLE001 - statistics must never break the user's training step
            if not self._warned:
                self._warned = True
                warnings.warn(f"watch: statistics could not be computed at step {step}: {error!r}", stacklevel=1)

    def _report(self, step: int) -> None:
        import torch

        jobs: list[tuple[str, str, Any]] = []  # (prefix, name, tensor)
        params = [(name, ref()) for name, ref in zip(self._names, self._params, strict=True)]
        if self.log in ("gradients", "all"):
            for name, param in params:
                grad = None if param is None else param.grad
                if grad is not None and grad.layout == torch.strided and grad.numel():
                    jobs.append(("gradients", name, grad))
        if self.log in ("parameters", "all"):
            jobs.extend(("parameters", name, param) for name, param in params if param is not None and param.numel())
        self.computed += 1
        with torch.no_grad():
            rows = _rows_on_host(torch, [tensor for _, _, tensor in jobs])
        from tracker_core.media import Histogram

        stats: dict[str, Any] = {}
        squares = 0.0
        bad: list[str] = []
        for (prefix, name, _), (counts, edges, norm) in zip(jobs, rows, strict=True):
            nonfinite = counts[BINS]
            if nonfinite < sum(counts):  # some finite value
                stats[f"{prefix}/{name}"] = Histogram(np_histogram=(counts[:BINS], edges))
            stats[f"{prefix}/{name}.norm"] = norm
            if nonfinite:
                stats[f"{prefix}/{name}.nonfinite"] = nonfinite
            if prefix == "gradients":
                squares += norm * norm
                if nonfinite:
                    bad.append(name)
        if self.log in ("gradients", "all"):
            stats["gradients/global_norm"] = squares**0.5
        if self._on_stats is not None:
            self._on_stats(stats)
        if bad and self._on_nonfinite is not None:
            self._on_nonfinite(bad, step)


def _range(torch: Any, lo: Any, hi: Any, fractions: Any) -> tuple[Any, Any, Any]:
    """(lo, hi, edges) of 64 bins over each [lo, hi] (lo, hi: 0-d or 1-d; edges: one row of 65 for each);
    a single value v gets [v - 0.5, v + 0.5]."""
    same = hi == lo
    lo, hi = torch.where(same, lo - 0.5, lo), torch.where(same, hi + 0.5, hi)
    low, high = lo.reshape(-1, 1), hi.reshape(-1, 1)
    inner = low * (1 - fractions[1:-1]) + high * fractions[1:-1]  # no overflow of hi - lo near float32's limits
    edges = torch.cat([low, inner, high], dim=1).cummax(1).values
    return lo, hi, edges


def _device_rows(torch: Any, tensors: list[Any], fractions: Any) -> Any:
    """The rows of tensors on one device, computed there without reading anything back (no sync).

    Each tensor costs a dozen kernels (its reductions, the binary search, the counting, the norm); ranges,
    edges and packing are computed once for all of them.
    """
    flat = [tensor.detach().reshape(-1).float() for tensor in tensors]  # float() of a float32 tensor is itself
    finite = [torch.isfinite(x) for x in flat]
    lo = torch.stack([torch.where(mask, x, float("inf")).amin() for x, mask in zip(flat, finite, strict=True)])
    hi = torch.stack([torch.where(mask, x, float("-inf")).amax() for x, mask in zip(flat, finite, strict=True)])
    none = hi < lo  # no finite value
    lo, hi, edges = _range(torch, torch.where(none, 0.0, lo), torch.where(none, 0.0, hi), fractions)
    counts = torch.zeros(len(flat) * (BINS + 1), dtype=torch.int64, device=fractions.device)
    one = torch.ones(1, dtype=torch.int64, device=fractions.device)
    norms = []
    for row, (x, mask) in enumerate(zip(flat, finite, strict=True)):
        # binary search over the inner edges: edges[i] <= x < edges[i + 1], the maximum in the last bin (numpy's
        # rule); non-finite values go to an extra bin
        index = torch.where(mask, torch.bucketize(x, edges[row, 1:-1], right=True), BINS)
        # into this tensor's row of counts (bincount would read its input's maximum back to the host on CUDA)
        counts.scatter_add_(0, index.add_(row * (BINS + 1)), one.expand_as(index))
        norms.append(torch.linalg.vector_norm(torch.where(mask, x, 0.0)))
    return _pack(torch, counts.reshape(-1, BINS + 1), edges, torch.stack(norms))


def _pack(torch: Any, counts: Any, edges: Any, norms: Any) -> Any:
    """Rows of int64: 64 counts + the non-finite count, then 65 edges and the norm as float32 bits."""
    floats = torch.cat([edges, norms.reshape(-1, 1)], dim=1).view(torch.int32).to(torch.int64)
    return torch.cat([counts.reshape(-1, BINS + 1), floats], dim=1)


_CHUNK = 1 << 17  # values per pass of the CPU path: its scratch buffers stay small and in cache
_ROUNDING = 16 * 2.0**-24  # bound on float32 rounding, in units of the magnitudes involved


def _cpu_row(torch: Any, tensor: Any, fractions: Any, scratch: dict[str, Any]) -> Any:
    """The row of a CPU tensor, exactly as ``_device_rows`` gives it, in about half the time.

    A value's bin is ``floor((x - lo) * 64 / (hi - lo))``; float32 rounding can move that by a bin only for
    values within ``tolerance`` of an edge, and those few get an exact binary search over the edges. The work
    goes chunk by chunk through ``scratch`` buffers, so no temporary as large as the tensor is allocated.
    """
    x = tensor.detach().reshape(-1)
    if x.dtype != torch.float32:
        x = x.float()
    lo, hi = torch.aminmax(x)  # NaN or +-Inf anywhere shows in the extremes
    nonfinite = 0
    if not bool(torch.isfinite(lo) & torch.isfinite(hi)):
        finite = x[torch.isfinite(x)]
        nonfinite = x.numel() - finite.numel()
        x = finite
        lo, hi = torch.aminmax(x) if x.numel() else (torch.tensor(0.0), torch.tensor(0.0))
    lo, hi, edges = _range(torch, lo, hi, fractions)
    scale = BINS / 2 / (hi * 0.5 - lo * 0.5)
    offset = lo * scale
    tolerance = _ROUNDING * (BINS + float(torch.maximum(lo.abs(), hi.abs()) * scale))
    counts = torch.zeros(BINS + 1, dtype=torch.int64)
    counts[BINS] = nonfinite
    inner = edges[0, 1:-1]
    for start in range(0, x.numel(), _CHUNK):
        chunk = x[start:start + _CHUNK]
        if tolerance >= 0.25:  # a range only a few float32 steps wide: search every value
            counts += torch.bincount(torch.bucketize(chunk, inner, right=True, out_int32=True), minlength=BINS + 1)
            continue
        n = chunk.numel()
        position, distance, index = scratch["position"][:n], scratch["distance"][:n], scratch["index"][:n]
        torch.mul(chunk, scale, out=position).sub_(offset)  # x * scale - lo * scale: no overflow of x - lo
        torch.round(position, out=distance).sub_(position).abs_()  # distance to the nearest edge, in bins
        index.copy_(position.clamp_(0, BINS - 1))
        counts += torch.bincount(index, minlength=BINS + 1)
        near = torch.lt(distance, tolerance, out=distance).nonzero().squeeze(1)
        if near.numel():
            exact = torch.bucketize(chunk[near], inner, right=True, out_int32=True)
            counts -= torch.bincount(index[near], minlength=BINS + 1)
            counts += torch.bincount(exact, minlength=BINS + 1)
    return _pack(torch, counts, edges, torch.linalg.vector_norm(x))[0]


def _rows_on_host(torch: Any, tensors: list[Any]) -> list[tuple[list[int], list[float], float]]:
    """(counts with the non-finite count last, edges, norm) of each tensor; one transfer per device."""
    by_device: dict[Any, list[int]] = {}
    for i, tensor in enumerate(tensors):
        by_device.setdefault(tensor.device, []).append(i)
    out: list[tuple[list[int], list[float], float]] = [([], [], 0.0)] * len(tensors)
    for device, indices in by_device.items():
        fractions = torch.arange(BINS + 1, dtype=torch.float32, device=device) / BINS
        if device.type == "cpu":
            size = min(_CHUNK, max(tensors[i].numel() for i in indices))
            scratch = {"position": torch.empty(size), "distance": torch.empty(size),
                       "index": torch.empty(size, dtype=torch.int32)}
            host = torch.stack([_cpu_row(torch, tensors[i], fractions, scratch) for i in indices])
        else:
            host = _device_rows(torch, [tensors[i] for i in indices], fractions).cpu()  # one transfer
        floats = host[:, BINS + 1:].to(torch.int32).view(torch.float32).tolist()
        for i, counts, values in zip(indices, host[:, :BINS + 1].tolist(), floats, strict=True):
            out[i] = (counts, values[:-1], values[-1])
    return out
