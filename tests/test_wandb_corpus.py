"""W&B-style scripts (tests/wandb_corpus/) run unchanged but for `import tracker_core as wandb`, each in a
real subprocess; the store must then hold what W&B's documentation says wandb stores."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from _procs import run_command

from tracker_core import Api, StoredRun

CORPUS = Path(__file__).parent / "wandb_corpus"
IMPORT = "\nimport wandb\n"


def run_corpus(name: str, tmp_path: Path, expect_rc: int = 0) -> str:
    """Run corpus script ``name`` with only its import changed; returns its stdout."""
    text = (CORPUS / f"{name}.py").read_text()
    assert text.count(IMPORT) == 1, f"{name}.py must import wandb on a line of its own, once"
    script = tmp_path / f"{name}.py"
    script.write_text(text.replace(IMPORT, "\nimport tracker_core as wandb\n"))
    done = run_command([sys.executable, str(script)], cwd=tmp_path, timeout=120)
    assert done.returncode == expect_rc, f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    if expect_rc == 0:
        assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


def only(project: str) -> StoredRun:
    runs = Api().runs(project)
    assert len(runs) == 1, [r.id for r in runs]
    return runs[0]


def rows(run: StoredRun, *keys: str) -> list[tuple]:
    return [tuple(row.get(k) for k in ("_step", *keys)) for row in run.history()]


def test_quickstart(tmp_path: Path) -> None:
    out = run_corpus("quickstart", tmp_path)
    run = only("corpus-quickstart")
    assert out.split("RUN ", 1)[1].strip() == run.path
    assert run.status == "finished" and run.exit_code == 0
    assert run.config == {"learning_rate": 0.02, "architecture": "CNN", "dataset": "CIFAR-100", "epochs": 10}
    assert run.tags == ["baseline"] and run.notes == "first try"
    history = run.history()
    assert [row["_step"] for row in history] == list(range(8))  # epochs 2..9, one row each, steps from 0
    assert all(set(row) == {"acc", "loss", "_step", "_timestamp"} for row in history)
    assert run.summary["acc"] == history[-1]["acc"] and run.summary["loss"] == history[-1]["loss"]
    assert [a.title for a in run.alerts()] == (["Good accuracy"] if history[-1]["acc"] > 0.5 else [])


def test_config_styles(tmp_path: Path) -> None:
    run_corpus("config_styles", tmp_path)
    run = only("corpus-config")
    assert run.config == {"batch_size": 64, "epochs": 5, "dropout": 0.2, "optimizer": "adam", "layers": [64, 32],
                          "schedule": {"name": "cosine", "warmup": 100}, "seed": 1}
    assert len(run.history()) == 5


def test_define_metric_epochs(tmp_path: Path) -> None:
    run_corpus("define_metric_epochs", tmp_path)
    run = only("corpus-define-metric")
    assert run.summary["val_loss"] == 0.5 and run.summary["val_acc"] == 0.8  # min and max, as defined
    assert run.summary["train_loss"] == pytest.approx(sum(1.0 / (b + 1) for b in range(20)) / 20)
    val = [(row["epoch"], row["val_loss"]) for row in run.history(keys=["epoch", "val_loss"]) if "val_loss" in row]
    assert val == [(0, 0.9), (1, 0.5), (2, 0.7), (3, 0.6)]  # plotted against epoch
    assert len([row for row in run.history() if "train_loss" in row]) == 20


def test_commit_and_step(tmp_path: Path) -> None:
    run_corpus("commit_and_step", tmp_path)
    run = only("corpus-commit")
    assert rows(run, "train/loss", "train/acc")[:3] == [(0, 1.0, 0.0), (1, 0.9, 0.1), (2, 0.8, 0.2)]
    assert rows(run, "eval/loss", "eval/acc")[3:] == [(10, 0.1, 0.9), (11, 0.11, 0.89), (12, 0.12, 0.88)]
    assert run.status == "finished"


def test_summary_updates(tmp_path: Path) -> None:
    run_corpus("summary_updates", tmp_path)
    run = only("corpus-summary")
    assert run.summary["best_loss"] == 0.3 and run.summary["best_step"] == 3
    assert run.summary["loss"] == 0.45 and run.summary["lr"] == pytest.approx(0.1 * 0.5**5)
    assert run.summary["test_accuracy"] == 0.91 and run.summary["notes"] == "held-out split"
    assert math.isnan(run.summary["nan_check"])


def test_save_files(tmp_path: Path) -> None:
    run_corpus("save_files", tmp_path)
    run = only("corpus-save")
    files = Path(run.dir, "files")
    assert (files / "newdir" / "newfile1.txt").read_text() == "data"
    assert not (files / "newdir" / "newfile2.csv").exists()  # not matched by *.txt
    assert not (files / "newdir" / "newfile3.txt").exists()  # written after save(): W&B does not pick it up
    assert json.loads((files / "summary.json").read_text()) == {"state": "done"}  # policy end
    assert (files / "metrics.log").read_text() == "epoch 0\nepoch 1\n"  # policy live, last content
    assert (files / "model.h5").read_text() == "weights"
    assert run.config == {"id": "save_glob"} and run.status == "finished"


def test_artifacts_dataset_model(tmp_path: Path) -> None:
    out = run_corpus("artifacts_dataset_model", tmp_path)
    assert "MODEL weights" in out
    api = Api()
    upload, train, evaluate = sorted(api.runs("corpus-artifacts"), key=lambda r: r.created_at or 0)
    assert (upload.job_type, train.job_type, evaluate.job_type) == ("upload-dataset", "train", "evaluate")
    dataset = api.artifact("mnist-small:raw")
    assert dataset.type == "dataset" and sorted(f["path"] for f in dataset.files()) == ["test.csv", "train.csv"]
    assert dataset.metadata == {"rows": 1} and dataset.description == "two splits"
    assert [r.id for r in dataset.used_by()] == [train.id]
    model = api.artifact("mnist-cnn:best")
    assert model.type == "model" and model.logged_by().id == train.id  # type: ignore[union-attr]
    assert [r.id for r in model.used_by()] == [evaluate.id]
    registered = api.artifact("mnist-classifier:staging")
    assert registered.digest == model.digest and registered.type == "model"
    assert api.artifact("raw-weights").type == "model"
    assert [a.name for a in train.used_artifacts()] == ["mnist-small"]


def test_resume_by_id(tmp_path: Path) -> None:
    out = run_corpus("resume_by_id", tmp_path)
    assert "RESUMED True 3" in out
    run = only("corpus-resume")
    assert run.id == "resume-demo-1" and run.config == {"lr": 0.1}
    assert [row["_step"] for row in run.history()] == list(range(7))
    assert run.summary["loss"] == 0.35 and run.status == "finished"


def test_rewind_and_fork(tmp_path: Path) -> None:
    out = run_corpus("rewind_and_fork", tmp_path)
    original_id, fork_id = out.split("IDS ", 1)[1].split()
    api = Api()
    fork = api.run(f"corpus-branch/{fork_id}")
    steps = [row["_step"] for row in fork.history()]
    assert steps == list(range(30))  # 0..20 copied from the source, 21..29 its own
    assert [row["metric"] for row in fork.history()][:21] == list(range(21))
    assert fork.config == {"variant": "fork"} and fork._meta["forked_from"]["step"] == 20
    original = api.run(f"corpus-branch/{original_id}")
    assert [row["metric"] for row in original.history()] == [*range(21), -21, -22, -23, -24]  # rewound
    assert original.config == {"variant": "original"}  # a rewind keeps the config


def test_tables_and_histograms(tmp_path: Path) -> None:
    run_corpus("tables_and_histograms", tmp_path)
    run = only("corpus-tables")
    history = run.history()
    table = history[0]["predictions"]
    assert table.columns == ["id", "prediction", "truth"]
    assert table.rows() == [[0, 0, 1], [1, 1, 1], [2, 0, 1], [3, 1, 1]]
    assert history[1]["scores"].kind == "histogram" and sum(history[1]["scores"].fields["values"]) == 5
    assert history[2]["hist_from_counts"].fields["values"] == [1, 2, 3]
    assert history[3]["summary_table"].rows() == [["a", 1], ["b", 2]]


def test_init_options(tmp_path: Path) -> None:
    out = run_corpus("init_options", tmp_path)
    assert "OFFLINE True URL None" in out
    run = only("corpus-options")
    assert (run.entity, run.group, run.job_type) == ("my-team", "experiment-1", "train")
    assert run.config == {"epochs": 2}
    code = Path(run.dir, "files", "code", "init_options.py")
    assert code.read_text() == (tmp_path / "init_options.py").read_text()  # save_code=True
    logged = Api().artifact(run._meta["code_artifact"])
    assert logged.type == "code" and sorted(f["path"] for f in logged.files()) == ["helpers.py", "init_options.py"]
    assert run.system_metrics() == []  # Settings(x_disable_stats=True)
    assert [row["epoch"] for row in run.history()] == [0, 1]


def test_failing_script(tmp_path: Path) -> None:
    run_corpus("failing_script", tmp_path, expect_rc=1)
    run = only("corpus-failing")
    assert run.status == "failed" and run.exit_code == 1
    assert "CUDA out of memory (simulated)" in (run.traceback or "")
    assert [row["loss"] for row in run.history()] == [0.5, 0.4]


def test_sweep_like_loop(tmp_path: Path) -> None:
    run_corpus("sweep_like_loop", tmp_path)
    runs = sorted(Api().runs("corpus-folds"), key=lambda r: r.config["fold"])
    assert [r.name for r in runs] == ["fold-0", "fold-1", "fold-2"]
    assert all(r.group == "cv-1" and r.job_type == "fold" and r.status == "finished" for r in runs)
    assert [r.summary["final_acc"] for r in runs] == pytest.approx([0.53, 0.63, 0.73])
    assert [len(r.history()) for r in runs] == [4, 4, 4]


def test_setup_multiprocess(tmp_path: Path) -> None:
    run_corpus("setup_multiprocess", tmp_path)
    runs = sorted(Api().runs("corpus-setup"), key=lambda r: r.config["learning_rate"])
    assert [r.config for r in runs] == [{"learning_rate": 0.001, "epochs": 3}, {"learning_rate": 0.01, "epochs": 2}]
    assert [len(r.history()) for r in runs] == [3, 2] and all(r.status == "finished" for r in runs)
