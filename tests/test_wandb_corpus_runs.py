"""W&B-style scripts of tests/wandb_corpus/runs_*.py: environment set-up, resuming, the Public API's queries,
positional watch, a WandbLogger script on TrackerLogger and config files. Each runs unchanged but for
``import tracker_core as wandb``, in a real subprocess; the store must then hold what W&B's docs say
wandb stores."""

from __future__ import annotations

from pathlib import Path

import pytest
from _procs import events, requires_torch
from test_wandb_corpus import only, rows, run_corpus

from tracker_core import Api


def test_hf_environment_variables_name_the_run(tmp_path: Path) -> None:
    out = run_corpus("runs_hf_environment", tmp_path)
    run = only("corpus-runs-hf")
    assert out.split("RUN ", 1)[1].split()[0] == run.path
    assert (run.name, run.notes, run.tags, run.group, run.job_type) == (
        "bert-base-glue", "set through the environment", ["hf", "baseline"], "glue-mrpc", "train")
    assert run.config == {"learning_rate": 5e-5, "per_device_train_batch_size": 16, "num_train_epochs": 1}
    assert rows(run, "train/loss", "train/global_step")[:2] == [(0, 1.0, 1), (1, 0.5, 2)]
    assert rows(run, "eval/accuracy")[-1] == (5, 0.84)  # a row of its own, as every wandb.log() call is
    assert run.state == "finished"


def test_resume_with_wandb_run_id_and_wandb_resume_allow(tmp_path: Path) -> None:
    out = run_corpus("runs_resume_environment", tmp_path)
    assert "ATTEMPT 0 env-resume-1 False 0" in out and "ATTEMPT 1 env-resume-1 True 3" in out
    run = only("corpus-runs-resume-env")  # one run, as W&B keeps one run per id
    assert run.id == "env-resume-1" and run.state == "finished"
    assert rows(run, "epoch") == [(step, step) for step in range(6)]  # steps continue across the restart
    assert run.summary["last_attempt"] == 1 and run.summary["loss"] == 1.0 / 6
    assert run.config == {"epochs": 6, "lr": 0.01}


def test_a_killed_first_attempt_is_continued_by_resume_auto(tmp_path: Path, store: Path) -> None:
    out = run_corpus("runs_preemptible_auto_resume", tmp_path)
    first = out.split("FIRST ", 1)[1].split()
    assert first[0] == "-9" and first[1:4] == ["START", first[2], "False"]  # SIGKILLed, a new run at first
    assert f"START {first[2]} True 5" in out  # the restart resumes it at the step after the last logged one
    run = only("corpus-runs-preempt")
    assert run.id == first[2] and run.state == "finished"
    assert rows(run, "epoch") == [(step, step) for step in range(8)]
    assert [record["seq"] for record in events(run)] == list(range(1, len(events(run)) + 1))  # no gap, no twice
    assert not (store / "wandb-resume.json").exists()  # W&B removes wandb-resume.json after a clean finish


def test_public_api_filters_order_pagination_and_scan_history(tmp_path: Path) -> None:
    out = run_corpus("runs_public_api_queries", tmp_path)
    lines = dict(line.split(" ", 1) for line in out.splitlines() if not line.startswith("RUN "))
    assert lines["COUNT"] == "3"  # config.lr < 0.01
    assert [line for line in out.splitlines() if line.startswith("RUN ")] == [
        "RUN lr-0.003 finished 0.003 0.9 [0.5, 0.3, 0.1]",  # ordered by -summary_metrics.acc (the last value)
        "RUN lr-0.001 finished 0.001 0.8 [0.4, 0.2]",
        "RUN lr-0.0003 finished 0.0003 0.5 [0.7, 0.5]"]
    assert lines["BEST"] == "lr-0.003 ['lr-0.001', 'lr-0.0003']"  # runs[0], runs[1:3]
    assert lines["NOT"] == "['lr-0.1']" and lines["REGEX"] == "['lr-0.0003', 'lr-0.001', 'lr-0.003']"
    assert lines["HISTORIES"] == "7 True"  # 3 + 2 + 2 rows, each with its run_id
    assert all(run.entity == "my-team" for run in Api().runs("my-team/corpus-runs-api"))


@requires_torch
def test_watch_with_wandbs_positional_arguments(tmp_path: Path) -> None:
    run_corpus("runs_watch_positional", tmp_path)
    run = only("corpus-runs-watch")
    history = run.history()
    assert [row["loss"] is not None for row in history] == [True] * 30
    watched = [row for row in history if "gradients/0.weight" in row]
    assert [row["_step"] for row in watched] == [9, 19, 29]  # log_freq=10: every 10th batch, as W&B's hooks
    names = {key for row in watched for key in row if key.startswith(("gradients/", "parameters/"))}
    assert {"gradients/0.weight", "gradients/0.bias", "gradients/2.weight", "parameters/0.weight",
            "parameters/2.bias"} <= names  # log="all": both, named by module path as W&B names them
    assert watched[0]["gradients/0.weight"].kind == "histogram"


@requires_torch
def test_a_wandblogger_script_with_trackerlogger(tmp_path: Path) -> None:
    pytest.importorskip("lightning")
    out = run_corpus("runs_lightning_logger", tmp_path)
    run = only("corpus-runs-lightning")
    assert out.split("RUN ", 1)[1].split()[0] == run.path and run.state == "finished"
    assert run.config == {"batch_size": 8, "dataset": "synthetic", "lr": 0.05, "trained_epochs": 2}
    history = run.history()
    assert len([row for row in history if "train/loss" in row]) == 20  # 10 batches x 2 epochs, every step
    assert [row["_step"] for row in history if "gradients/net.0.weight" in row] == [9, 19]  # watch(model, "all", 10)
    assert any("parameters/net.2.bias" in row for row in history)
    samples = next(row["samples"] for row in history if "samples" in row)
    assert [item["caption"] for item in samples.fields["items"]] == ["tree", "person"]
    assert all(Path(run.dir, item["file"]).is_file() for item in samples.fields["items"])
    table = next(row["predictions"] for row in history if "predictions" in row)
    assert table.columns == ["input_sum", "prediction"] and len(table.rows()) == 3
    assert [row["trainer/global_step"] for row in history if "train/loss" in row] == list(range(20))  # as WandbLogger


def test_config_defaults_yaml_and_config_update_from_a_file(tmp_path: Path) -> None:
    out = run_corpus("runs_config_files", tmp_path)
    run = only("corpus-runs-config-files")
    expected = {"epochs": 3, "batch_size": 32, "dropout": 0.2, "optimizer": "adam"}  # init's epochs win
    assert run.config == expected and f"CONFIG {expected!r}" in out
    assert rows(run, "epoch") == [(0, 0), (1, 1), (2, 2)]
