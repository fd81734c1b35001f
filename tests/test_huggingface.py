"""The Hugging Face adapter with a real ``Trainer`` on a tiny GPT-2 built from a config (no downloads)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest
from _procs import Child, child_env, events, only_run, run_script

import tracker_core
from tracker_core._settings import AdapterSettings, resolve

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from integrations.huggingface import TrackerCallback  # noqa: E402 - after the skips

VOCAB, LENGTH = 32, 8
END_OF_TRAINING = {"train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "total_flos"}


class TokenIds(torch.utils.data.Dataset):
    """Random token ids as both input and label (causal language modelling)."""

    def __init__(self, size: int, seed: int = 0) -> None:
        self.ids = torch.randint(0, VOCAB, (size, LENGTH), generator=torch.Generator().manual_seed(seed))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"input_ids": self.ids[index], "labels": self.ids[index]}


def tiny_model() -> Any:
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=VOCAB, n_positions=LENGTH,
                                     bos_token_id=0, eos_token_id=0)
    return transformers.GPT2LMHeadModel(config)


def trainer(tmp_path: Path, callbacks: list[Any] | None = None, model_init: Any = None, **overrides: Any) -> Any:
    """A Trainer of 4 steps, logging every 2 steps, evaluating at step 2 and 4, saving nothing by default."""
    arguments: dict[str, Any] = {
        "output_dir": str(tmp_path / "out"), "report_to": "tracker", "max_steps": 4, "logging_steps": 2,
        "eval_strategy": "steps", "eval_steps": 2, "save_strategy": "no", "per_device_train_batch_size": 4,
        "per_device_eval_batch_size": 4, "use_cpu": True, "disable_tqdm": True, "learning_rate": 1e-3,
        **overrides}
    return transformers.Trainer(model=None if model_init else tiny_model(), model_init=model_init,
                                args=transformers.TrainingArguments(**arguments), callbacks=callbacks,
                                train_dataset=TokenIds(16), eval_dataset=TokenIds(4, seed=1))


def metric_rows(run: tracker_core.StoredRun, key: str) -> list[dict[str, Any]]:
    return [row for row in run.history() if key in row]


# ----- what a run records -----------------------------------------------------------------------


def test_report_to_tracker_records_rewritten_keys_against_global_step(tmp_path: Path) -> None:
    hf = trainer(tmp_path, project="hf", run_name="tiny")
    hf.train()
    hf.evaluate()
    run = only_run("hf")
    assert run.name == "tiny"
    assert run.status == "running"  # the adapter does not finish the run: process exit or the user does
    assert [row["train/global_step"] for row in metric_rows(run, "train/loss")] == [2, 4]
    assert [row["train/global_step"] for row in metric_rows(run, "eval/loss")] == [2, 4, 4]  # the last: evaluate()
    keys = {key for row in run.history() for key in row}
    assert {"train/learning_rate", "train/grad_norm", "train/epoch", "eval/runtime", "eval/samples_per_second"} <= keys
    assert not [key for key in keys if key.startswith(("eval_", "loss")) or key in END_OF_TRAINING]
    axes = {r["metric"]["name"]: r["metric"]["step_metric"] for r in events(run) if r["type"] == "define_metric"}
    assert axes.keys() == keys - {"_step", "_timestamp", "train/global_step"}
    assert set(axes.values()) == {"train/global_step"}


def test_end_of_training_aggregates_go_to_the_summary(tmp_path: Path) -> None:
    trainer(tmp_path, project="hf").train()
    run = only_run("hf")
    assert set(run.summary) >= END_OF_TRAINING
    assert run.summary["train_runtime"] > 0 and run.summary["total_flos"] > 0
    assert run.summary["train/global_step"] == 4


def test_config_holds_training_arguments_model_config_and_parameter_counts(tmp_path: Path) -> None:
    hf = trainer(tmp_path, project="hf")
    model = hf.model
    model.peft_config = {"default": transformers.GPT2Config(n_layer=7)}  # anything with to_dict(), as PEFT's
    hf.train()
    config = only_run("hf").config
    assert config["learning_rate"] == 1e-3 and config["max_steps"] == 4  # TrainingArguments
    assert config["n_layer"] == 1 and config["model_type"] == "gpt2"  # the model's config
    assert config["id2label"] == {"0": "LABEL_0", "1": "LABEL_1"}  # int keys made strings, nothing left out
    assert config["peft_config"]["default"]["n_layer"] == 7
    assert config["model/num_parameters"] == sum(p.numel() for p in model.parameters())
    assert config["model/num_trainable_parameters"] == config["model/num_parameters"]


def test_project_argument_else_tracker_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_PROJECT", "from_env")
    trainer(tmp_path).evaluate()  # TrainingArguments.project left at its default
    assert only_run("from_env").status == "running"
    tracker_core.finish()
    trainer(tmp_path, project="from_args").evaluate()
    assert only_run("from_args")
    tracker_core.finish()
    trainer(tmp_path, project="from_args", report_to="none", callbacks=[TrackerCallback(project="kw")]).evaluate()
    assert only_run("kw")


def test_second_train_evaluate_and_predict_continue_the_same_run(tmp_path: Path) -> None:
    hf = trainer(tmp_path, project="hf")
    hf.train()
    hf.train()
    hf.evaluate()
    hf.predict(TokenIds(4, seed=2))
    run = only_run("hf")
    assert [row["train/global_step"] for row in metric_rows(run, "train/loss")] == [2, 4, 2, 4]
    assert len(metric_rows(run, "eval/loss")) == 5
    assert [row["train/global_step"] for row in metric_rows(run, "test/loss")] == [4]


def test_an_active_run_is_used_and_left_running(tmp_path: Path) -> None:
    mine = tracker_core.init(project="mine", name="user-run")
    trainer(tmp_path, project="ignored").train()
    assert tracker_core.run is mine
    run = only_run("mine")
    assert run.status == "running" and len(metric_rows(run, "train/loss")) == 2
    assert tracker_core.Api().runs("ignored") == []


def test_the_run_argument_is_logged_to_and_left_running(tmp_path: Path) -> None:
    given = tracker_core.init(project="given")
    trainer(tmp_path, report_to="none", callbacks=[TrackerCallback(run=given, project="ignored")]).train()
    run = only_run("given")
    assert run.status == "running" and len(metric_rows(run, "train/loss")) == 2


def test_a_nonzero_rank_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    trainer(tmp_path, project="hf").train()
    assert tracker_core.Api().runs("hf") == []


# ----- options ----------------------------------------------------------------------------------


def test_checkpoints_become_model_artifacts_with_a_step_alias(tmp_path: Path) -> None:
    callback = TrackerCallback(project="kw", name="ckpt", tags=["hf"], log_model="checkpoint")
    trainer(tmp_path, report_to="none", callbacks=[callback], save_strategy="steps", save_steps=2).train()
    run = only_run("kw")
    assert run.name == "ckpt" and run.tags == ["hf"]
    logged = run.logged_artifacts()
    assert [(a.name, a.version) for a in logged] == [(f"model-{run.id}", 0), (f"model-{run.id}", 1)]
    assert "step-2" in logged[0].aliases and "step-4" in logged[1].aliases
    assert {"config.json", "model.safetensors", "trainer_state.json"} <= paths(logged[1])
    assert logged[1].metadata["global_step"] == 4


def test_tracker_log_model_end_logs_the_final_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_LOG_MODEL", "end")
    trainer(tmp_path, project="hf").train()
    run = only_run("hf")
    [final] = run.logged_artifacts()
    assert "final" in final.aliases and final.type == "model"
    assert {"config.json", "model.safetensors"} <= paths(final)


def test_the_hf_docs_wandb_environment_works_with_report_to_tracker(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """As Hugging Face's W&B guide sets it up, with only report_to changed."""
    monkeypatch.setenv("WANDB_PROJECT", "amazon_sentiment_analysis")
    monkeypatch.setenv("WANDB_LOG_MODEL", "checkpoint")
    monkeypatch.setenv("WANDB_WATCH", "all")
    trainer(tmp_path, run_name="bert-base-high-lr", max_steps=100, eval_strategy="no", save_strategy="steps",
            save_steps=50, logging_steps=10).train()  # watch() measures every max(100, logging_steps) steps
    run = only_run("amazon_sentiment_analysis")
    assert run.name == "bert-base-high-lr"
    assert [a.version for a in run.logged_artifacts()] == [0, 1]  # a checkpoint at step 50 and 100
    watched = [row for row in run.history() if any(key.startswith("parameters/") for key in row)]
    assert len(watched) == 1 and watched[0]["train/global_step"] == 100  # WANDB_WATCH=all: parameters too


def paths(artifact: Any) -> set[str]:
    return {entry["path"] for entry in artifact.files()}


def test_adapter_variables_are_read_as_words() -> None:
    """TRACKER_LOG_MODEL=checkpoint was once parsed as an int because 'checkpoint' contains 'int'."""
    settings = resolve(AdapterSettings, {}, {"TRACKER_LOG_MODEL": "checkpoint", "TRACKER_WATCH": "all"})
    assert (settings.log_model, settings.watch) == ("checkpoint", "all")


def test_watch_adds_gradient_statistics(tmp_path: Path) -> None:
    callback = TrackerCallback(project="hf", watch="all", log_freq=1)
    trainer(tmp_path, report_to="none", callbacks=[callback]).train()
    keys = {key for row in only_run("hf").history() for key in row}
    assert "gradients/global_norm" in keys
    assert any(key.startswith("parameters/transformer.h.0.") for key in keys)


@pytest.mark.parametrize(("options", "named"), [({"log_model": "sometimes"}, "log_model"),
                                                 ({"watch": True}, "watch"),
                                                 ({"colour": "red"}, "colour"),
                                                 ({"log_freq": 0}, "log_freq"),
                                                 ({"run": "my-run"}, "run")])
def test_bad_options_raise_at_once(options: dict[str, Any], named: str) -> None:
    with pytest.raises(tracker_core.SettingsError, match=named):
        TrackerCallback(**options)


def test_a_bad_variable_raises_when_the_trainer_is_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_WATCH", "weights")
    with pytest.raises(tracker_core.SettingsError, match="TRACKER_WATCH"):
        trainer(tmp_path)


def test_an_error_inside_the_adapter_warns_once_and_training_goes_on(tmp_path: Path) -> None:
    callback = TrackerCallback(project="hf", log_model="checkpoint")
    hf = trainer(tmp_path, report_to="none", callbacks=[_RemoveCheckpoint(), callback], save_strategy="steps",
                 save_steps=2)  # the checkpoint is gone before ours runs
    with pytest.warns(tracker_core.TrackerWarning, match="on_save") as caught:
        hf.train()
    assert len([w for w in caught if "on_save" in str(w.message)]) == 1
    assert len(metric_rows(only_run("hf"), "train/loss")) == 2


class _RemoveCheckpoint(transformers.TrainerCallback):
    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        shutil.rmtree(Path(args.output_dir, f"checkpoint-{state.global_step}"))


# ----- hyperparameter search --------------------------------------------------------------------


def _search(tmp_path: Path, n_trials: int = 2, **kwargs: Any) -> Any:
    pytest.importorskip("optuna")
    hf = trainer(tmp_path, model_init=tiny_model, project="hp", max_steps=2, eval_steps=1, save_strategy="steps",
                 save_steps=2)
    hf.hyperparameter_search(hp_space=lambda trial: {"learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-2)},
                             n_trials=n_trials, backend="optuna", **kwargs)
    return hf


def test_each_trial_is_a_run_of_one_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_LOG_MODEL", "checkpoint")  # a trial saves under output_dir/run-<n>/checkpoint-2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # optuna's "experimental" notices
        hf = _search(tmp_path, n_trials=3)
    trials = sorted(tracker_core.Api().runs("hp"), key=lambda run: run.name)
    assert [run.name for run in trials] == ["trial-0", "trial-1", "trial-2"]
    assert len({run.group for run in trials}) == 1 and trials[0].group.startswith("hp-search-")
    assert [run.status for run in trials] == ["finished", "finished", "running"]  # the last: until the next event
    for run in trials:
        assert 1e-4 <= run.config["trial_params"]["learning_rate"] <= 1e-2
        assert run.config["learning_rate"] == run.config["trial_params"]["learning_rate"]
        assert len(metric_rows(run, "train/loss")) == 1 and len(metric_rows(run, "eval/loss")) == 2
        [checkpoint] = run.logged_artifacts()
        assert checkpoint.name == f"model-{run.id}" and "step-2" in checkpoint.aliases
    hf.train()  # not a trial: the last trial ends, and this training gets a run of its own
    runs = tracker_core.Api().runs("hp")
    assert sorted(run.status for run in runs) == ["finished"] * 3 + ["running"]
    assert [run.group for run in runs if run.status == "running"] == [None]


# ----- whole processes --------------------------------------------------------------------------

CHILD_PRELUDE = """
    import sys, time
    sys.path[:0] = [{tests!r}]
    import transformers
    from test_huggingface import trainer
    from pathlib import Path
"""


def _prelude() -> str:
    return CHILD_PRELUDE.format(tests=str(Path(__file__).parent))


@pytest.mark.slow
def test_failed_and_pruned_trials_end_in_their_state(tmp_path: Path) -> None:
    """Optuna catches the first trial's error, the second completes, the third is pruned and ends at process exit."""
    pytest.importorskip("optuna")
    done = run_script(tmp_path, _prelude() + """
    import optuna
    from test_huggingface import tiny_model

    class FailFirstTrial(transformers.TrainerCallback):
        trials = 0

        def on_train_begin(self, args, state, control, **kwargs):
            FailFirstTrial.trials += 1

        def on_step_end(self, args, state, control, **kwargs):
            if FailFirstTrial.trials == 1:
                raise RuntimeError("trial blew up")

    hf = trainer(Path("."), model_init=tiny_model, callbacks=[FailFirstTrial()], project="hp", max_steps=2,
                 eval_steps=1)
    class PruneThirdTrial(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return trial.number == 2

    hf.hyperparameter_search(hp_space=lambda trial: {"seed": trial.suggest_int("seed", 0, 9)}, n_trials=3,
                             backend="optuna", catch=(RuntimeError,), pruner=PruneThirdTrial())
    """, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    trials = sorted(tracker_core.Api().runs("hp"), key=lambda run: run.name)
    assert [run.name for run in trials] == ["trial-0", "trial-1", "trial-2"]
    assert [run.status for run in trials] == ["failed", "finished", "stopped"]
    assert [run.summary.get("hp_search/pruned") for run in trials] == [None, None, True]
    assert [len(metric_rows(run, "eval/loss")) for run in trials] == [0, 2, 1]


@pytest.mark.slow
def test_an_exception_escaping_train_fails_the_run(tmp_path: Path) -> None:
    done = run_script(tmp_path, _prelude() + """
    class Boom(transformers.TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                raise RuntimeError("diverged at step 3")

    trainer(Path("."), callbacks=[Boom()], project="hf").train()
    """, timeout=120)
    assert done.returncode == 1, done.stderr[-3000:]
    run = only_run("hf")
    assert run.status == "failed"
    assert "RuntimeError: diverged at step 3" in run.traceback
    assert len(metric_rows(run, "train/loss")) == 1  # step 2 was logged before the failure


@pytest.mark.slow
def test_sigterm_during_training_kills_the_run(tmp_path: Path) -> None:
    import signal

    with Child(tmp_path, _prelude() + """
    class Slow(transformers.TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            print("step", state.global_step, flush=True)
            time.sleep(0.5)

    trainer(Path("."), callbacks=[Slow()], project="hf", max_steps=1000).train()
    """) as child:
        child.expect("step 3", timeout=90)
        child.proc.send_signal(signal.SIGTERM)
        assert child.wait(timeout=60) == -signal.SIGTERM
    run = only_run("hf")
    assert run.status == "killed"
    assert len(metric_rows(run, "train/loss")) >= 1


@pytest.mark.slow
@pytest.mark.parametrize("imports", [
    "import integrations.huggingface\nfrom transformers import Trainer, TrainingArguments",
    "from transformers import Trainer, TrainingArguments\nimport integrations.huggingface",
], ids=["adapter-before", "adapter-after"])
def test_importing_the_adapter_registers_report_to_in_a_fresh_process(tmp_path: Path, imports: str) -> None:
    """Without the start-up hook (switched off here; an installed one is tested in test_huggingface_start_up_hook)."""
    done = run_script(tmp_path, imports + """
import sys
sys.path[:0] = [sys.argv[1]]
from test_huggingface import trainer
from pathlib import Path
names = [type(cb).__name__ for cb in trainer(Path(".")).callback_handler.callbacks]
print("callbacks", names)
""", str(Path(__file__).parent), env=child_env(TRACKER_HF_AUTOREGISTER="0"), timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "'TrackerCallback'" in done.stdout
    assert "TrackerWarning" not in done.stderr


@pytest.mark.slow
def test_without_the_hook_or_the_adapter_transformers_rejects_the_name(tmp_path: Path) -> None:
    """The registration is what makes the name resolve; importing the core alone does not register it."""
    done = run_script(tmp_path, """
    import tracker_core
    import transformers
    args = transformers.TrainingArguments("out", report_to="tracker", use_cpu=True)
    try:
        transformers.Trainer(model=transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=1, n_embd=8,
                             n_head=2, vocab_size=8)), args=args)
    except ValueError as exc:
        print("rejected", exc)
    """, env=child_env(TRACKER_HF_AUTOREGISTER="0"), timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("rejected tracker is not supported")


def test_importing_the_tracker_does_not_import_transformers(tmp_path: Path) -> None:
    done = run_script(tmp_path, """
    import sys
    import tracker_core, integrations.huggingface
    print(sorted(name for name in ("transformers", "torch", "integrations._hf_callback") if name in sys.modules))
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_missing_transformers_names_the_extra(tmp_path: Path) -> None:
    done = run_script(tmp_path, """
    import sys
    sys.modules["transformers"] = None
    import tracker_core
    import integrations.huggingface as hf
    try:
        hf.TrackerCallback
    except ImportError as exc:
        print(exc)
    """)
    assert done.returncode == 0, done.stderr
    assert "pip install 'tracker[huggingface]'" in done.stdout
