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

**Cost.** Everything is computed on the tensor's own device with torch ops, without a host
synchronisation per tensor (ranges by masked ``amin``/``amax``, buckets by arithmetic corrected against
the edges as ``numpy.histogram`` does, counts by ``bincount`` on CPU and ``scatter_add_`` elsewhere), then
stacked and copied to the host once per device per logging step. Gradients are not cloned.

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

__all__ = ["Watcher"]

LOG_VALUES = ("gradients", "parameters", "all")
BINS = 64
_FILTER_HINT = "a glob string, a list of glob strings, or a callable taking a parameter name and returning bool"
_WRAPPERS = ("DistributedDataParallel", "DataParallel")

Filter = str | Sequence[str] | Callable[[str], bool] | None


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

    def __init__(self, model: Any, log: str = "gradients", log_freq: int = 100, include: Filter = None,
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
        self._handles: list[Any] = [param.register_post_accumulate_grad_hook(self._on_grad) for _, param in selected]

    def remove(self) -> None:
        """Remove every hook (idempotent); the Watcher keeps no reference to the model afterwards."""
        handles, self._handles = self._handles, []
        for handle in handles:
            handle.remove()
        self._params = []

    def _on_grad(self, _param: Any) -> None:
        import torch

        current = getattr(torch._C, "_current_graph_task_id", None)
        task = int(current()) if current is not None else -1
        with self._lock:
            if task in self._pending:
                return
            if len(self._pending) > 64:  # passes that failed before their end-of-backward callbacks
                self._pending.clear()
            self._pending.add(task)
        engine = torch.autograd.Variable._execution_engine

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


def _device_row(torch: Any, tensor: Any, fractions: Any) -> Any:
    """One int64 row: 64 counts + the non-finite count, 65 float32 edges and the norm as their bits."""
    x = tensor.detach().reshape(-1)
    if x.dtype != torch.float32:
        x = x.float()
    if x.device.type == "cpu" and x.numel():  # on the CPU reading the range back costs no device sync
        lo, hi = torch.aminmax(x)  # NaN or ±Inf anywhere shows in the extremes
        if bool(torch.isfinite(lo) & torch.isfinite(hi)):
            return _finite_cpu_row(torch, x, lo, hi, fractions)
    finite = torch.isfinite(x)
    lo = torch.where(finite, x, float("inf")).amin()
    hi = torch.where(finite, x, float("-inf")).amax()
    none = hi < lo  # no finite value
    lo, hi = torch.where(none, 0.0, lo), torch.where(none, 0.0, hi)
    same = hi == lo
    lo, hi = torch.where(same, lo - 0.5, lo), torch.where(same, hi + 0.5, hi)
    inner = lo * (1 - fractions[1:-1]) + hi * fractions[1:-1]  # no overflow of hi - lo near float32's limits
    edges = torch.cat([lo.reshape(1), inner, hi.reshape(1)]).cummax(0).values
    scale = BINS / 2 / (hi * 0.5 - lo * 0.5)
    xs = torch.where(finite, x, lo)
    index = ((xs - lo) * scale).clamp_(0, BINS - 1).to(torch.int32)
    # as numpy.histogram does: fix the arithmetic's off-by-one-ulp cases so that edges[i] <= x < edges[i + 1]
    index -= (xs < edges.index_select(0, index)).to(torch.int32)
    index += ((xs >= edges.index_select(0, index + 1)) & (index < BINS - 1)).to(torch.int32)
    index = torch.where(finite, index, BINS)  # the maximum is in the last bin; non-finite values in an extra one
    if x.device.type == "cpu":
        counts = torch.bincount(index, minlength=BINS + 1)
    else:  # bincount reads its input's maximum back to the host (a sync per tensor) on CUDA
        counts = torch.zeros(BINS + 1, dtype=torch.int64, device=x.device)
        index = index.long()
        counts.scatter_add_(0, index, torch.ones(1, dtype=torch.int64, device=x.device).expand_as(index))
    norm = torch.linalg.vector_norm(torch.where(finite, x, 0.0)).reshape(1)
    floats = torch.cat([edges, norm]).view(torch.int32).to(torch.int64)
    return torch.cat([counts, floats])


def _finite_cpu_row(torch: Any, x: Any, lo: Any, hi: Any, fractions: Any) -> Any:
    """``_device_row`` for a CPU tensor without NaN or Inf: the same result in about half the passes."""
    if bool(hi == lo):
        lo, hi = lo - 0.5, hi + 0.5
    inner = lo * (1 - fractions[1:-1]) + hi * fractions[1:-1]
    edges = torch.cat([lo.reshape(1), inner, hi.reshape(1)]).cummax(0).values
    scale = BINS / 2 / (hi * 0.5 - lo * 0.5)
    index = ((x - lo) * scale).clamp_(0, BINS - 1).to(torch.int32)
    index -= (x < edges.index_select(0, index)).to(torch.int32)  # numpy.histogram's edge rule, as above
    index += ((x >= edges.index_select(0, index + 1)) & (index < BINS - 1)).to(torch.int32)
    counts = torch.bincount(index, minlength=BINS + 1)
    norm = torch.linalg.vector_norm(x).reshape(1)
    floats = torch.cat([edges, norm]).view(torch.int32).to(torch.int64)
    return torch.cat([counts, floats])


def _rows_on_host(torch: Any, tensors: list[Any]) -> list[tuple[list[int], list[float], float]]:
    by_device: dict[Any, list[int]] = {}
    for i, tensor in enumerate(tensors):
        by_device.setdefault(tensor.device, []).append(i)
    out: list[tuple[list[int], list[float], float]] = [([], [], 0.0)] * len(tensors)
    for device, indices in by_device.items():
        fractions = torch.arange(BINS + 1, dtype=torch.float32, device=device) / BINS
        host = torch.stack([_device_row(torch, tensors[i], fractions) for i in indices]).cpu()  # one transfer
        floats = host[:, BINS + 1:].to(torch.int32).view(torch.float32).tolist()
        for i, counts, values in zip(indices, host[:, :BINS + 1].tolist(), floats, strict=True):
            out[i] = (counts, values[:-1], values[-1])
    return out
