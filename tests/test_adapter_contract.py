"""The contract every framework adapter keeps (DESIGN.md principles 3, 4, 7 and 8), checked on all three.

Each case trains a tiny model with the real framework in a child process:
- a missing framework gives an ImportError naming the extra to install;
- an adapter attaches to the run already active and leaves it running; given ``run=``, it uses that one;
- without an active run it starts one, which ends ``finished`` at process exit, not at the end of training;
- on a non-zero rank it writes nothing;
- an exception escaping training leaves the run ``failed`` with the traceback.
"""

from __future__ import annotations

import importlib.util
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from _procs import child_env, only_run, run_script

import tracker_core


@dataclass(frozen=True)
class Adapter:
    module: str  # integrations.<module>
    framework: str  # the import the adapter needs
    extra: str  # pip install 'tracker[<extra>]'
    public: str  # the adapter class
    train: str  # defines train(make_adapter, fail): one tiny training; make_adapter(**kw) builds the adapter
    env: tuple[tuple[str, str], ...] = ()
    rank_variables: tuple[str, ...] = ("RANK", "LOCAL_RANK")  # what its launchers set on a non-zero rank


LIGHTNING = Adapter("lightning", "lightning", "lightning", "TrackerLogger", """
    import torch
    import lightning.pytorch as pl

    class Tiny(pl.LightningModule):
        def __init__(self, fail):
            super().__init__()
            self.layer, self.fail = torch.nn.Linear(4, 1), fail

        def training_step(self, batch, index):
            if self.fail and index == 2:
                raise RuntimeError("boom in training_step")
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.layer(x), y)
            self.log("train/loss", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    def train(make_adapter, fail=False):
        data = torch.utils.data.TensorDataset(torch.randn(16, 4), torch.randn(16, 1))
        trainer = pl.Trainer(logger=make_adapter(), max_epochs=1, log_every_n_steps=1, accelerator="cpu",
                             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
        trainer.fit(Tiny(fail), torch.utils.data.DataLoader(data, batch_size=4))
""")

HUGGINGFACE = Adapter("huggingface", "transformers", "huggingface", "TrackerCallback", """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainerCallback, TrainingArguments

    class Fail(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 2:
                raise RuntimeError("boom in training")

    def train(make_adapter, fail=False):
        torch.manual_seed(0)
        model = GPT2LMHeadModel(GPT2Config(vocab_size=32, n_positions=8, n_embd=16, n_layer=1, n_head=2))
        ids = torch.randint(0, 32, (16, 8))
        data = [{"input_ids": row, "labels": row} for row in ids]
        args = TrainingArguments(output_dir="hf-out", max_steps=4, per_device_train_batch_size=4, logging_steps=1,
                                 save_strategy="no", report_to="none", use_cpu=True, disable_tqdm=True)
        callbacks = [make_adapter()] + ([Fail()] if fail else [])
        Trainer(model=model, args=args, train_dataset=data, callbacks=callbacks).train()
""", rank_variables=("RANK",))  # LOCAL_RANK alone makes accelerate start torch.distributed, which needs a launcher

KERAS = Adapter("keras", "keras", "keras", "TrackerCallback", """
    import keras
    import numpy as np

    def train(make_adapter, fail=False):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        boom = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: 1 / 0 if batch == 2 else None)
        rng = np.random.default_rng(0)
        model.fit(rng.random((16, 4)), rng.random((16, 1)), epochs=2, batch_size=4, verbose=0,
                  callbacks=[make_adapter()] + ([boom] if fail else []))
""", env=(("KERAS_BACKEND", "torch"),))

INSTALLED = [adapter for adapter in (LIGHTNING, HUGGINGFACE, KERAS) if importlib.util.find_spec(adapter.framework)]
ADAPTERS = [pytest.param(adapter, id=adapter.module) for adapter in INSTALLED]
RANKS = [pytest.param(adapter, variable, id=f"{adapter.module}-{variable}")
         for adapter in INSTALLED for variable in adapter.rank_variables]

pytestmark = [pytest.mark.slow, pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")]


def run_child(tmp_path: Path, adapter: Adapter, main: str, **env: str) -> subprocess.CompletedProcess[str]:
    body = (f"from integrations.{adapter.module} import {adapter.public} as Adapter\n"
            + textwrap.dedent(adapter.train) + textwrap.dedent(main))
    return run_script(tmp_path, body, env=child_env(**dict(adapter.env), **env), timeout=240)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_missing_framework_names_the_extra_to_install(tmp_path: Path, adapter: Adapter) -> None:
    body = f"""
        import sys
        sys.modules[{adapter.framework!r}] = None  # as if it were not installed
        import integrations.{adapter.module} as adapter_module
        try:
            adapter_module.{adapter.public}
        except ImportError as error:
            print("ImportError:", error)
        else:
            print("no error")
    """
    done = run_script(tmp_path, textwrap.dedent(body), env=child_env(**dict(adapter.env)), timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ImportError:" in done.stdout and f"tracker[{adapter.extra}]" in done.stdout, done.stdout


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_the_active_run_is_used_and_left_running(tmp_path: Path, adapter: Adapter) -> None:
    done = run_child(tmp_path, adapter, """
        import tracker_core
        mine = tracker_core.init(project="contract", name="mine")
        train(lambda: Adapter())
        assert tracker_core.run is mine, "the adapter replaced or ended the active run"
        mine.log({"after/training": 1.0})
        mine.finish()
    """)
    assert done.returncode == 0, done.stderr
    run = only_run("contract")
    assert run.name == "mine" and run.status == "finished"
    keys = {key for row in run.history() for key in row}
    assert "after/training" in keys and any("loss" in key for key in keys), keys


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_run_passed_explicitly_is_used(tmp_path: Path, adapter: Adapter) -> None:
    done = run_child(tmp_path, adapter, """
        import tracker_core
        given = tracker_core.init(project="given", name="given", reinit="return_previous")
        train(lambda: Adapter(run=given))
        given.finish()
    """)
    assert done.returncode == 0, done.stderr
    run = only_run("given")
    assert any("loss" in key for row in run.history() for key in row)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_run_the_adapter_starts_ends_at_process_exit(tmp_path: Path, adapter: Adapter) -> None:
    done = run_child(tmp_path, adapter, """
        import tracker_core
        train(lambda: Adapter(project="own"))
        print("still active after training:", tracker_core.run is not None and not tracker_core.run.disabled)
    """)
    assert done.returncode == 0, done.stderr
    assert "still active after training: True" in done.stdout
    run = only_run("own")
    assert run.status == "finished" and any("loss" in key for row in run.history() for key in row)


@pytest.mark.parametrize(("adapter", "rank_variable"), RANKS)
def test_a_non_zero_rank_writes_nothing(tmp_path: Path, store: Path, adapter: Adapter, rank_variable: str) -> None:
    done = run_child(tmp_path, adapter, """
        train(lambda: Adapter(project="ranked"))
        print("trained")
    """, **{rank_variable: "1"})
    assert done.returncode == 0 and "trained" in done.stdout, done.stderr
    assert tracker_core.Api().runs("ranked") == []
    assert not (store / "ranked").exists() or not any((store / "ranked").iterdir())


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_an_exception_escaping_training_leaves_the_run_failed(tmp_path: Path, adapter: Adapter) -> None:
    done = run_child(tmp_path, adapter, """
        train(lambda: Adapter(project="broken"), fail=True)
    """)
    assert done.returncode == 1, done.stderr
    run = only_run("broken")
    assert run.status == "failed", run.status
    assert "boom in training" in (run.traceback or "") or "ZeroDivisionError" in (run.traceback or ""), run.traceback
