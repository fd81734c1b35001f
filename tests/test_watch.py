"""tracker_core._watch.Watcher on real torch (CPU): histograms vs numpy, norms, step counting, filters, unwrapping."""

from __future__ import annotations

import gc
import re
import subprocess
import sys
import weakref
from typing import Any

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")

from tracker_core._watch import Watcher  # noqa: E402
from tracker_core.media import Histogram  # noqa: E402

pytestmark = pytest.mark.filterwarnings("error")


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(8, 16)
        self.fc2 = torch.nn.Linear(16, 4)

    def forward(self, x: Any) -> Any:
        return self.fc2(torch.relu(self.fc1(x)))


class DistributedDataParallel(torch.nn.Module):  # named like torch's, to check that ``module.`` is dropped
    def __init__(self, module: Any) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: Any) -> Any:
        return self.module(x)


def make(**kwargs: Any) -> tuple[Any, Watcher, list[dict[str, Any]], list[tuple[list[str], int]]]:
    torch.manual_seed(0)
    model = kwargs.pop("model", None) or Net()
    stats: list[dict[str, Any]] = []
    bad: list[tuple[list[str], int]] = []
    watcher = Watcher(model, on_stats=stats.append, on_nonfinite=lambda names, step: bad.append((names, step)),
                      **kwargs)
    return model, watcher, stats, bad


def backward(model: Any, n: int = 1) -> None:
    for _ in range(n):
        model.zero_grad()
        model(torch.randn(5, 8)).pow(2).sum().backward()


def check_histogram(hist: Any, values: Any) -> None:
    values = values.detach().reshape(-1).numpy().astype(np.float32)
    finite = values[np.isfinite(values)]
    assert isinstance(hist, Histogram) and len(hist.values) == 64 and len(hist.bins) == 65
    assert hist.bins[0] == finite.min() and hist.bins[-1] == finite.max()
    np.testing.assert_allclose(hist.bins, np.linspace(finite.min(), finite.max(), 65), rtol=1e-5, atol=1e-6)
    expected, _ = np.histogram(finite, bins=np.array(hist.bins, dtype=np.float32))
    assert hist.values == expected.tolist() and sum(hist.values) == finite.size


def test_histograms_and_norms_match_numpy_and_torch() -> None:
    model, watcher, stats, bad = make(log_freq=1)
    backward(model)
    assert watcher.steps == 1 and watcher.computed == 1 and len(stats) == 1 and bad == []
    (row,) = stats
    names = [n for n, _ in model.named_parameters()]
    assert set(row) == {f"gradients/{n}" for n in names} | {f"gradients/{n}.norm" for n in names} | {
        "gradients/global_norm"}
    for name, param in model.named_parameters():
        check_histogram(row[f"gradients/{name}"], param.grad)
        assert row[f"gradients/{name}.norm"] == torch.linalg.vector_norm(param.grad).item()
    norms = torch.stack([torch.linalg.vector_norm(p.grad) for p in model.parameters()])
    assert row["gradients/global_norm"] == pytest.approx(torch.linalg.vector_norm(norms).item(), rel=1e-6)


def test_known_gradient_and_nonfinite_values_are_masked_counted_and_named() -> None:
    model = torch.nn.Linear(100, 1, bias=False)
    _, _, stats, bad = make(model=model, log_freq=1)
    x = torch.linspace(-3, 5, 100).reshape(1, 100)
    model(x).sum().backward()  # d/dw = x
    check_histogram(stats[0]["gradients/weight"], x)
    assert stats[0]["gradients/weight.norm"] == torch.linalg.vector_norm(x).item()
    x = x.clone()
    x[0, 3], x[0, 7], x[0, 50] = float("nan"), float("inf"), float("-inf")
    model.zero_grad()
    model(x).sum().backward()
    row = stats[1]
    assert row["gradients/weight.nonfinite"] == 3 and bad == [(["weight"], 2)]
    check_histogram(row["gradients/weight"], x)
    finite = x[torch.isfinite(x)]
    assert sum(row["gradients/weight"].values) == 97
    assert row["gradients/weight.norm"] == pytest.approx(torch.linalg.vector_norm(finite).item(), rel=1e-6)
    assert row["gradients/global_norm"] == pytest.approx(row["gradients/weight.norm"])


def test_large_random_gradient_matches_numpy() -> None:
    model = torch.nn.Linear(300_000, 1, bias=False)
    _, _, stats, _ = make(model=model, log_freq=1)
    x = torch.randn(1, 300_000) * torch.logspace(-6, 6, 300_000)
    model(x).sum().backward()
    check_histogram(stats[0]["gradients/weight"], x)


def edge_cases() -> list[Any]:
    """Values on, just above and just below every edge of ranges wide, narrow, huge and tiny, plus random ones."""
    torch.manual_seed(1)
    fractions = torch.arange(65, dtype=torch.float32) / 64
    cases = []
    for lo, hi in [(-1.0, 1.0), (0.1, 0.7), (1000.0, 1000.001), (5.0, 5.0000005), (-3e38, 3e38), (-1e-30, 1e-30)]:
        edges = torch.tensor(lo) * (1 - fractions) + torch.tensor(hi) * fractions
        values = torch.cat([edges, torch.nextafter(edges, torch.tensor(float("inf"))),
                            torch.nextafter(edges, torch.tensor(float("-inf"))), torch.rand(200_000) * (hi - lo) + lo])
        cases.append(values.clamp(lo, hi))
    with_nonfinite = cases[0].clone()
    with_nonfinite[[5, 9, 11]] = torch.tensor([float("nan"), float("inf"), float("-inf")])
    return [*cases, with_nonfinite, torch.full((10,), 1e10), torch.randn(300_000) * 1e-20 + 3e-19]


@pytest.mark.parametrize("path", ["cpu", "device"])
def test_every_value_lands_in_numpys_bin_even_next_to_an_edge(path: str) -> None:
    import tracker_core._watch as watch

    fractions = torch.arange(65, dtype=torch.float32) / 64
    for values in edge_cases():
        if path == "cpu":
            counts, edges, _ = watch._rows_on_host(torch, [values])[0]
        else:  # the no-sync path used on accelerators, run here on the CPU
            row = watch._device_rows(torch, [values], fractions)[0]
            counts, edges = row[:65].tolist(), row[65:130].to(torch.int32).view(torch.float32).tolist()
        finite = values[torch.isfinite(values)].numpy()
        expected, _ = np.histogram(finite, bins=np.array(edges, dtype=np.float32))
        assert counts[:64] == expected.tolist() and counts[64] == values.numel() - finite.size


def test_constant_and_all_nonfinite_gradients() -> None:
    model = torch.nn.Linear(10, 1, bias=False)
    _, _, stats, bad = make(model=model, log_freq=1)
    model(torch.full((1, 10), 2.0)).sum().backward()
    hist = stats[0]["gradients/weight"]
    assert hist.bins[0] == 1.5 and hist.bins[-1] == 2.5 and sum(hist.values) == 10
    model.zero_grad()
    model(torch.full((1, 10), float("nan"))).sum().backward()
    assert "gradients/weight" not in stats[1] and stats[1]["gradients/weight.nonfinite"] == 10
    assert stats[1]["gradients/weight.norm"] == 0.0 and bad == [(["weight"], 2)]


def test_nothing_is_computed_on_steps_that_are_not_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    import tracker_core._watch as watch

    calls = []
    real = watch._cpu_row
    monkeypatch.setattr(watch, "_cpu_row", lambda *a: calls.append(1) or real(*a))
    model, watcher, stats, _ = make(log_freq=3)
    backward(model, 10)
    assert watcher.steps == 10 and watcher.computed == 10 // 3 == len(stats)
    assert len(calls) == 3 * 4  # four parameters on each logging step
    watcher.remove()
    watcher.remove()  # idempotent
    backward(model, 5)
    assert watcher.steps == 10 and len(stats) == 3


def test_retain_graph_and_several_backwards_count_separately() -> None:
    model, watcher, _, _ = make(log_freq=100)
    loss = model(torch.randn(2, 8)).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    torch.autograd.grad(model(torch.randn(2, 8)).sum(), list(model.parameters()))  # no .grad accumulation
    assert watcher.steps == 2


@pytest.mark.parametrize(("include", "exclude", "expected"), [
    ("fc1.*", None, {"fc1.weight", "fc1.bias"}),
    (["*.weight"], None, {"fc1.weight", "fc2.weight"}),
    (None, "*bias", {"fc1.weight", "fc2.weight"}),
    (lambda name: name.startswith("fc2"), ["*.bias"], {"fc2.weight"}),
])
def test_include_exclude(include: Any, exclude: Any, expected: set[str]) -> None:
    model, _, stats, _ = make(log_freq=1, include=include, exclude=exclude)
    backward(model)
    assert {k.split("/", 1)[1].removesuffix(".norm") for k in stats[0]} - {"global_norm"} == expected


def test_frozen_and_unused_parameters_are_skipped() -> None:
    model = Net()
    model.fc1.bias.requires_grad_(False)
    model, _, stats, _ = make(model=model, log_freq=1)
    model.zero_grad(set_to_none=True)
    model.fc2(torch.randn(3, 16)).sum().backward()  # fc1 unused: .grad is None
    backward(model)
    assert "gradients/fc1.bias.norm" not in stats[1] and "gradients/fc1.weight.norm" in stats[1]  # frozen
    assert {k for k in stats[0] if not k.endswith(".norm")} == {"gradients/fc2.weight", "gradients/fc2.bias",
                                                                "gradients/global_norm"}


def test_ddp_style_wrapper_names_are_the_users() -> None:
    inner = Net()
    wrapped, _, stats, _ = make(model=DistributedDataParallel(inner), log_freq=1, include="fc1.weight")
    backward(wrapped)
    assert set(stats[0]) == {"gradients/fc1.weight", "gradients/fc1.weight.norm", "gradients/global_norm"}


def test_compiled_model_names_are_the_users() -> None:
    code = ("import torch; from tracker_core._watch import Watcher; m = torch.nn.Linear(3, 2); c = torch.compile(m)\n"
            "out = []; w = Watcher(c, log_freq=1, on_stats=out.append)\n"
            "c(torch.randn(4, 3)).sum().backward(); print(sorted(out[0]))")
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.skip("torch.compile too slow here")
    if done.returncode:
        pytest.skip(f"torch.compile unavailable here: {done.stderr[-300:]}")
    assert "'gradients/weight'" in done.stdout and "_orig_mod" not in done.stdout


def test_parameters_and_all() -> None:
    model, _, stats, _ = make(log="parameters", log_freq=1)
    backward(model)
    assert all(k.startswith("parameters/") for k in stats[0]) and len(stats[0]) == 8
    for name, param in model.named_parameters():
        check_histogram(stats[0][f"parameters/{name}"], param)
        assert stats[0][f"parameters/{name}.norm"] == torch.linalg.vector_norm(param).item()
    model, _, stats, _ = make(log="all", log_freq=2)
    backward(model, 2)
    assert len(stats) == 1 and len(stats[0]) == 17 and "gradients/global_norm" in stats[0]


def test_model_is_collected_after_remove() -> None:
    model, watcher, _, _ = make(log_freq=1)
    backward(model)
    ref = weakref.ref(model)
    watcher.remove()
    del model
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize(("kwargs", "hint"), [
    ({"log": "grads"}, "'gradients', 'parameters', 'all'"),
    ({"log_freq": 0}, "int >= 1"),
    ({"log_freq": 2.5}, "int >= 1"),
    ({"log_freq": True}, "int >= 1"),
    ({"include": 3}, "glob"),
    ({"exclude": ["a", 1]}, "glob"),
    ({"include": "nothing*"}, "no parameter"),
])
def test_bad_arguments(kwargs: Any, hint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(hint)):
        Watcher(Net(), **kwargs)
    with pytest.raises(ValueError, match=r"torch\.nn\.Module"):
        Watcher(object())


def test_sharded_parameters_are_refused() -> None:
    class FlatParameter(torch.nn.Parameter):
        pass

    model = Net()
    model.fc1.weight = FlatParameter(torch.zeros(16, 8))
    with pytest.raises(ValueError, match="not supported"):
        Watcher(model)
    Watcher(model, exclude="fc1.weight").remove()


def test_module_does_not_import_torch() -> None:
    code = "import sys, tracker_core._watch; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
