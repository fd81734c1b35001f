"""run.watch(): statistics land on the user's next row; NaN is an alert; DDP gradients are the averaged ones."""

from __future__ import annotations

import gc
import importlib.util
import json
import math
import sys
import weakref
from pathlib import Path

import pytest
from _procs import child_env, events, requires_torch, run_command, write_script

import tracker_core

pytestmark = requires_torch


def _tiny_model() -> object:
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 1))


def test_statistics_join_the_loss_on_the_same_row_every_log_freq_steps() -> None:
    import torch

    model = _tiny_model()
    run = tracker_core.init(project="watch")
    run.watch(model, log="all", log_freq=2)
    for step in range(4):
        loss = model(torch.randn(8, 4)).pow(2).mean()
        loss.backward()
        run.log({"loss": loss.item()}, step=step)
        model.zero_grad()
    run.finish()
    rows = tracker_core.Api().run(run.path).history()
    watched = [row["_step"] for row in rows if "gradients/global_norm" in row]
    assert watched == [1, 3]  # after the 2nd and 4th backward pass, on the row logged right after
    row = rows[1]
    assert "loss" in row and row["gradients/0.weight"].kind == "histogram"
    assert sum(row["gradients/0.weight"].fields["values"]) == 12 and row["parameters/1.bias"].kind == "histogram"
    norms = [row[f"gradients/{n}.norm"] for n in ("0.weight", "0.bias", "1.weight", "1.bias")]
    assert row["gradients/global_norm"] == pytest.approx(math.sqrt(sum(n * n for n in norms)))


def test_nan_gradients_are_counted_and_recorded_as_an_alert() -> None:
    import torch

    model = _tiny_model()
    run = tracker_core.init(project="watch")
    run.watch(model, log_freq=1)
    loss = model(torch.tensor([[float("nan"), 1.0, 2.0, 3.0]])).sum()
    loss.backward()
    run.log({"loss": 1.0})
    run.finish()
    stored = tracker_core.Api().run(run.path)
    row = stored.history()[0]
    assert row["gradients/0.weight.nonfinite"] > 0
    alerts = [e for e in events(stored) if e["type"] == "alert"]
    assert alerts and "0.weight" in alerts[0]["text"] and alerts[0]["level"] == "ERROR"


def test_finish_removes_the_hooks_so_the_model_can_be_collected() -> None:
    import torch

    model = _tiny_model()
    run = tracker_core.init(project="watch")
    run.watch(model, log_freq=1)
    model(torch.randn(2, 4)).sum().backward()
    run.finish()
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None


def test_a_run_that_writes_nothing_watches_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setenv("RANK", "1")
    model = _tiny_model()
    run = tracker_core.init(project="watch")
    run.watch(model, log_freq=1)
    model(torch.randn(2, 4)).sum().backward()
    run.log({"loss": 1.0})
    assert run._watchers == [] and run._watch_stats is None
    run.finish()


DDP_SCRIPT = """
    import json, os, sys
    import torch
    import torch.distributed as dist
    import tracker_core

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1, bias=False)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    run = tracker_core.init(project=sys.argv[1])
    run.watch(ddp, log_freq=1)
    x = torch.full((2, 3), float(rank + 1))          # each rank sees other data: other local gradients
    local = torch.nn.Linear(3, 1, bias=False)
    local.load_state_dict(model.state_dict())
    local(x).sum().backward()
    ddp(x).sum().backward()                            # DDP averages into model.weight.grad
    run.log({"loss": 1.0})
    if rank == 0:
        print(json.dumps({"averaged": model.weight.grad.norm().item(), "local": local.weight.grad.norm().item()}))
    run.finish()
    dist.barrier()  # both ranks done before the process group goes away
    dist.destroy_process_group()
"""


def test_under_torchrun_the_logged_gradients_are_the_averaged_ones(tmp_path: Path) -> None:
    script = write_script(tmp_path, DDP_SCRIPT, "ddp_watch.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(script), "ddpwatch"]
    done = run_command(command, env=child_env(OMP_NUM_THREADS="1"), timeout=180, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    expected = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("{")))
    (stored,) = tracker_core.Api().runs("ddpwatch")
    logged = stored.history()[0]["gradients/weight.norm"]  # the user's name: no "module." prefix
    assert logged == pytest.approx(expected["averaged"]) and logged != pytest.approx(expected["local"])


KERAS_SCRIPT = """
    import os, sys
    import numpy as np
    import keras
    import tracker_core

    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(8, activation="relu", name="hidden"),
                              keras.layers.Dense(1, name="out")])
    model.compile(optimizer="adam", loss="mse")  # Keras' optimizer, not torch.optim
    run = tracker_core.init(project=sys.argv[1])
    run.watch(model, log_freq=2, include="*hidden*")  # Keras' long internal names, filtered by a glob

    class Log(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            run.log({"loss": float(logs["loss"])})

    model.fit(np.random.rand(64, 4), np.random.rand(64, 1), batch_size=16, epochs=1, verbose=0, callbacks=[Log()])
    run.finish()
"""


def test_a_keras_model_on_the_torch_backend_is_watched(tmp_path: Path) -> None:
    if importlib.util.find_spec("keras") is None:  # not importorskip: importing keras here needs a backend
        pytest.skip("needs keras (the 'keras' or 'dev' extra)")
    script = write_script(tmp_path, KERAS_SCRIPT, "keras_watch.py")
    done = run_command([sys.executable, str(script), "keraswatch"], env=child_env(KERAS_BACKEND="torch"), timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    rows = tracker_core.Api().runs("keraswatch")[0].history()
    assert len(rows) == 4 and "loss" in rows[0]
    watched = sorted(k for k in rows[1] if k.startswith("gradients/") and not k.endswith((".norm", "global_norm")))
    assert watched == ["gradients/_functional._torch_params.sequential/hidden/bias",
                       "gradients/_functional._torch_params.sequential/hidden/kernel"]
    assert "gradients/global_norm" not in rows[0] and rows[1]["gradients/global_norm"] > 0


def test_module_level_watch_acts_on_the_active_run_like_wandb_watch() -> None:
    import torch

    model = torch.nn.Linear(4, 2)
    run = tracker_core.init(project="p")
    tracker_core.watch(model, log="gradients", log_freq=1)
    model(torch.randn(3, 4)).sum().backward()
    run.log({"loss": 1.0})
    tracker_core.unwatch(model)
    model(torch.randn(3, 4)).sum().backward()
    run.log({"loss": 0.5})
    run.finish()
    rows = tracker_core.Api().run(run.path).history()
    assert "gradients/weight.norm" in rows[0] and "gradients/weight.norm" not in rows[1]


def test_watch_takes_wandbs_arguments_in_wandbs_order() -> None:
    import inspect

    expected = ["models", "criterion", "log", "log_freq", "idx", "log_graph", "include", "exclude"]
    for watch in (tracker_core.watch, tracker_core.Run.watch):
        parameters = {n: p for n, p in inspect.signature(watch).parameters.items() if n != "self"}
        assert list(parameters) == expected
        assert (parameters["log"].default, parameters["log_freq"].default) == ("gradients", 1000)
        assert parameters["include"].kind is parameters["exclude"].kind is inspect.Parameter.KEYWORD_ONLY


def test_a_list_of_models_is_watched_the_second_under_wandbs_graph_prefix() -> None:
    import torch

    encoder, decoder = torch.nn.Linear(4, 3), torch.nn.Linear(3, 1)
    run = tracker_core.init(project="watch")
    tracker_core.watch((encoder, decoder), None, "all", 1)  # positional, as W&B scripts write it
    decoder(encoder(torch.randn(5, 4))).sum().backward()
    run.log({"loss": 1.0})
    run.finish()
    (row,) = tracker_core.Api().run(run.path).history()
    assert row["gradients/weight"].kind == "histogram" and row["parameters/bias.norm"] > 0
    assert sum(row["gradients/weight"].fields["values"]) == 12  # the encoder's 3x4 weight
    assert sum(row["gradients/graph_1weight"].fields["values"]) == 3  # the decoder's 1x3 weight
    assert row["gradients/graph_1global_norm"] > 0 and "parameters/graph_1bias.norm" in row


def test_watch_log_none_watches_nothing_and_log_graph_warns_once() -> None:
    import torch

    model = torch.nn.Linear(4, 2)
    run = tracker_core.init(project="watch")
    run.watch(model, log=None, log_freq=1)
    with pytest.warns(tracker_core.TrackerWarning, match=r"log_graph=True\) is accepted for W&B and has no effect"):
        run.watch(model, log_freq=1, log_graph=True)
    model(torch.randn(3, 4)).sum().backward()
    run.log({"loss": 1.0})
    run.finish()
    (row,) = tracker_core.Api().run(run.path).history()
    assert "gradients/weight.norm" in row  # once: the second call's hooks only
    with pytest.raises(tracker_core.SettingsError, match="idx"):
        tracker_core.init(project="watch").watch(model, idx=-1)
    with pytest.raises(TypeError):
        tracker_core.watch(model, None, "all", 1, None, False, "*weight")  # include is keyword-only
