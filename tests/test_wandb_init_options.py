"""W&B's init() options: those with a meaning here get it, the rest warn once and never stop the script."""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import pytest
from _procs import run_command, run_script

import tracker_core
from tracker_core import Api, RunNotFoundError, SettingsError, TrackerWarning, _wandb_init, _wandb_settings


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the process's warn-once memory and setup() defaults empty."""
    monkeypatch.setattr(_wandb_init, "_warned", set())
    monkeypatch.setattr(_wandb_settings, "_defaults", {})


def _history(run: tracker_core.Run) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "_timestamp"} for row in Api().run(run.path).history()]


@pytest.mark.parametrize(("option", "value", "words"), [
    ("sync_tensorboard", True, "TensorBoard"),
    ("tensorboard", True, "TensorBoard"),
    ("monitor_gym", True, "gym"),
    ("anonymous", "allow", "no account"),
    ("force", True, "no login"),
])
def test_options_without_a_meaning_here_warn_once_and_the_run_works(option: str, value: object, words: str) -> None:
    with pytest.warns(TrackerWarning, match=rf"init\({option}=.*no effect here: .*{words}"):
        run = tracker_core.init(project="opts", **{option: value})
    run.log({"x": 1})
    run.finish()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tracker_core.init(project="opts", **{option: value}).finish()  # once per process
    assert Api().run(run.path).status == "finished"


def test_options_at_their_off_value_are_silent() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = tracker_core.init(project="opts", sync_tensorboard=False, monitor_gym=None, anonymous="never",
                                force=False, save_code=False)
    run.finish()


@pytest.mark.parametrize(("arguments", "match"), [
    ({"save_code": "yes"}, "save_code"),
    ({"allow_val_change": 1}, "allow_val_change"),
    ({"config_include_keys": "lr"}, "list of config keys"),
    ({"fork_from": "abc"}, "_step"),
    ({"resume_from": "abc?_step=1.5"}, "whole number"),
    ({"resume_from": "abc?lr=1"}, "_step"),
    ({"resume_from": "abc?_step=1", "id": "other"}, "resume_from"),
    ({"fork_from": "abc?_step=1", "id": "abc"}, "into itself"),
    ({"resume": "allow", "fork_from": "abc?_step=1"}, "cannot be used together"),
    ({"settings": 3}, "settings"),
    ({"settings": {"x_stats_sampling_interval": "often"}}, "seconds"),
])
def test_real_mistakes_in_wandb_options_still_raise_with_a_hint(arguments: dict, match: str) -> None:
    with pytest.raises(SettingsError, match=match) as raised:
        tracker_core.init(project="opts", **arguments)
    assert "Hint:" in str(raised.value)
    assert tracker_core.run is None


def test_dryrun_is_offline_and_online_without_a_server_warns_and_runs_offline() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dry = tracker_core.init(project="opts", mode="dryrun")
    assert dry.offline and dry.dir is not None
    dry.finish()
    with pytest.warns(TrackerWarning, match="mode='online' needs a team server.*TRACKER_SERVER"):
        online = tracker_core.init(project="opts", mode="online")
    assert online.offline and online.url is None
    online.log({"x": 1})
    online.finish()
    assert Api().run(online.path).status == "finished"


def test_online_asked_in_init_beats_wandb_mode_offline_where_a_server_is_configured(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("TRACKER_SERVER", "http://127.0.0.1:9")  # nothing listens: the upload is left for sync
    monkeypatch.setenv("TRACKER_API_KEY", "trk_test_not_a_real_key")
    monkeypatch.setenv("TRACKER_SYNC_TIMEOUT", "0.5")
    online = tracker_core.init(project="opts", mode="online")
    assert not online.offline and online.settings.mode == "online"
    online.finish()
    monkeypatch.delenv("TRACKER_SERVER")
    assert tracker_core.init(project="opts").offline  # and the environment's offline holds otherwise


def test_reinit_words_of_wandb() -> None:
    first = tracker_core.init(project="opts")
    assert tracker_core.init(project="opts", reinit=False) is first  # W&B: False is return_previous
    second = tracker_core.init(project="opts", reinit=True)  # True is finish_previous
    assert second is not first and Api().run(first.path).status == "finished"
    side = tracker_core.init(project="opts", reinit="create_new")
    assert tracker_core.run is second and side is not second  # create_new leaves the module-level run alone
    side.log({"side": 1})
    tracker_core.log({"main": 1})
    side.finish()
    assert tracker_core.run is second
    second.finish()
    assert [row["side"] for row in Api().run(side.path).history()] == [1]
    assert [row["main"] for row in Api().run(second.path).history()] == [1]


def test_resume_true_and_auto_continue_a_run_by_id() -> None:
    run = tracker_core.init(project="opts", id="again")
    run.log({"x": 1})
    run.finish()
    resumed = tracker_core.init(project="opts", id="again", resume=True)
    assert resumed.resumed and resumed.step == 1 and resumed.start_time == run.start_time
    resumed.finish()
    fresh = tracker_core.init(project="opts", resume="auto")  # "again" finished cleanly: a new run
    assert not fresh.resumed and fresh.id != "again"
    fresh.finish()


def test_resume_from_rewinds_the_run_to_that_step() -> None:
    run = tracker_core.init(project="opts", id="rewound")
    for step in range(5):
        run.log({"loss": float(step)})
    run.finish()
    again = tracker_core.init(project="opts", resume_from="rewound?_step=2")
    assert again.id == "rewound" and again.step == 3  # W&B: the run goes on at step N + 1
    again.log({"loss": 30.0})
    again.finish()
    assert [(row["_step"], row["loss"]) for row in _history(again)] == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 30.0)]


def test_resume_from_a_run_that_does_not_exist_raises() -> None:
    with pytest.raises(RunNotFoundError):
        tracker_core.init(project="opts", resume_from="nosuchrun?_step=2")


def test_fork_from_starts_a_new_run_with_the_history_up_to_the_step(tmp_path: Path) -> None:
    source = tracker_core.init(project="opts", id="source", config={"lr": 0.1, "layers": 2})
    source.define_metric("loss", summary="min")
    for step in range(6):
        source.log({"loss": 10.0 - step, "table": tracker_core.Table(columns=["a"], data=[[step]])} if step == 1
                   else {"loss": 10.0 - step})
    source.finish()
    before = Path(source.dir or "", "events.jsonl").read_bytes()
    fork = tracker_core.init(project="opts", fork_from="source?_step=3", config={"lr": 0.5})
    assert fork.id != "source" and fork.step == 4
    fork.log({"loss": 100.0})
    fork.finish()
    assert Path(source.dir or "", "events.jsonl").read_bytes() == before  # the source is never touched
    stored = Api().run(fork.path)
    rows = _history(fork)
    assert [(row["_step"], row["loss"]) for row in rows] == [(0, 10.0), (1, 9.0), (2, 8.0), (3, 7.0), (4, 100.0)]
    assert stored.config == {"lr": 0.5, "layers": 2}  # the fork's own config wins over the source's
    assert stored.summary["loss"] == 7.0  # the source's define_metric(summary="min") holds in the fork
    table = rows[1]["table"]  # its file was copied into the fork
    assert table.path is not None and table.path.startswith(str(fork.dir)) and table.rows() == [[1]]
    meta = json.loads(Path(fork.dir or "", "run.json").read_text())
    assert meta["forked_from"] == {"run_id": "source", "project": "opts", "step": 3}


def test_fork_from_a_missing_run_raises_and_leaves_no_run_behind(store: Path) -> None:
    with pytest.raises(RunNotFoundError, match="fork_from"):
        tracker_core.init(project="opts", fork_from="missing?_step=3")
    assert not (store / "opts").exists() or os.listdir(store / "opts") == []


def test_config_include_and_exclude_keys_filter_the_config() -> None:
    run = tracker_core.init(project="opts", config={"lr": 0.1, "epochs": 3, "secret_path": "/x"},
                            config_exclude_keys=["secret_path"])
    run.finish()
    assert Api().run(run.path).config == {"lr": 0.1, "epochs": 3}
    run = tracker_core.init(project="opts", config={"lr": 0.1, "epochs": 3}, config_include_keys=["lr"])
    run.finish()
    assert Api().run(run.path).config == {"lr": 0.1}


def test_allow_val_change_lets_config_values_change() -> None:
    run = tracker_core.init(project="opts", config={"lr": 0.1}, allow_val_change=True)
    run.config.lr = 0.2
    run.config.update({"lr": 0.3})
    run.finish()
    assert Api().run(run.path).config == {"lr": 0.3}
    strict = tracker_core.init(project="opts", config={"lr": 0.1})
    with pytest.raises(tracker_core.ConfigChangeError):
        strict.config.lr = 0.2
    strict.finish()


def test_settings_objects_and_dicts_apply_what_maps_and_warn_once_for_the_rest() -> None:
    with pytest.warns(TrackerWarning, match="W&B settings init_timeout, start_method have no effect"):
        run = tracker_core.init(settings=tracker_core.Settings(project="from-settings", x_disable_stats=True,
                                                               console="wrap", start_method="thread",
                                                               init_timeout=90, run_name="named"))
    assert run.project == "from-settings" and run.name == "named"
    assert run.settings.system_interval == 0 and run.settings.console == "auto"
    run.finish()
    explicit = tracker_core.init(project="explicit", settings={"project": "ignored", "disable_git": True})
    assert explicit.project == "explicit"  # an init() argument wins over settings
    assert set(explicit.settings.provenance_exclude) == {"git", "git_diff"}
    explicit.finish()


def test_setup_settings_are_the_defaults_of_later_inits() -> None:
    tracker_core.setup(settings={"project": "from-setup", "x_disable_stats": True})
    run = tracker_core.init()
    assert run.project == "from-setup" and run.settings.system_interval == 0
    run.finish()
    other = tracker_core.init(project="mine", settings=tracker_core.Settings(x_stats_sampling_interval=3))
    assert other.project == "mine" and other.settings.system_interval == 3.0
    other.finish()


def test_save_code_saves_the_main_script_into_the_run(tmp_path: Path) -> None:
    body = """
    import tracker_core as wandb
    run = wandb.init(project="code", save_code=True)
    run.log({"x": 1})
    run.finish()
    print("DIR", run.dir)
    """
    done = run_script(tmp_path, body, name="train_script.py")
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.split("DIR ", 1)[1].strip())
    saved = run_dir / "files" / "code" / "train_script.py"
    assert saved.read_text() == (tmp_path / "train_script.py").read_text()
    assert json.loads((run_dir / "run.json").read_text())["code_path"] == "code/train_script.py"


def test_save_code_without_a_script_file_warns_and_runs(tmp_path: Path) -> None:
    code = ("import warnings, tracker_core as wandb; warnings.simplefilter('error', wandb.TrackerWarning)\n"
            "try:\n    wandb.init(project='code', save_code=True)\nexcept wandb.TrackerWarning as w:\n"
            "    print('WARNED', w)\n")
    done = run_command([sys.executable, "-c", code], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "WARNED" in done.stdout and "no code was saved" in done.stdout


def test_a_fork_copies_only_media_files_inside_the_run_folder() -> None:
    from tracker_core._fork import _media_files

    row = {"ok": {"$m": {"kind": "table", "file": "media/abc.json"}},
           "items": {"$m": {"kind": "list", "items": [{"file": "media/d.png"}, {"file": "media/../../../etc/x"}]}},
           "odd": {"$m": {"file": "media\\..\\..\\x"}}, "plain": 3}
    assert sorted(_media_files(row, "/nonexistent")) == ["media/abc.json", "media/d.png"]


def test_a_fork_copies_list_items_mask_and_box_layers_and_table_cells() -> None:
    np = pytest.importorskip("numpy")
    pixels = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    source = tracker_core.init(project="opts", id="media-source")
    source.log({"grid": [tracker_core.Image(pixels), tracker_core.Image(pixels + 1)],
                "seg": tracker_core.Image(pixels + 2, masks={"pred": {"mask_data": np.eye(4, dtype=np.uint8),
                                                                       "class_labels": {1: "cat"}}}),
                "table": tracker_core.Table(columns=["img"], data=[[tracker_core.Image(pixels + 3)]])})
    source.log({"loss": 1.0})
    source.finish()
    fork = tracker_core.init(project="opts", fork_from="media-source?_step=0")
    fork.finish()
    copied = sorted(path.name for path in Path(fork.dir or "", "media").iterdir())
    assert copied == sorted(path.name for path in Path(source.dir or "", "media").iterdir())
    assert len(copied) == 6  # two list items, an image and its mask, a table and its cell
    cell = _history(fork)[0]["table"].rows()[0][0]
    assert cell.path.startswith(str(fork.dir)) and os.path.exists(cell.path)


def test_fork_from_copies_saved_files_and_the_hand_set_summary_up_to_the_step(tmp_path: Path) -> None:
    weights = tmp_path / "weights.txt"
    weights.write_text("epoch 2")
    source = tracker_core.init(project="opts", id="saver")
    for step in range(6):
        source.log({"acc": step / 10})
        if step == 2:
            source.summary["best_epoch"] = 2
            source.summary.update({"note": "kept", "dropped": 1})
            del source.summary["dropped"]
            source.save(str(weights), base_path=str(tmp_path), policy="now")
        if step == 4:
            source.summary["best_epoch"] = 4  # after the fork point: not the fork's
            source.summary["late"] = True
    source.finish()
    Path(source.dir or "", "files", "nested").mkdir()
    Path(source.dir or "", "files", "nested", "vocab.json").write_text("{}")
    Path(source.dir or "", "files", "output.log").write_text("the source's console")  # stays the source's
    fork = tracker_core.init(project="opts", fork_from="saver?_step=3")
    assert fork.summary["best_epoch"] == 2 and fork.summary["note"] == "kept"
    fork.finish()
    stored = Api().run(fork.path)
    assert stored.summary["best_epoch"] == 2 and stored.summary["note"] == "kept"
    assert "dropped" not in stored.summary and "late" not in stored.summary
    assert stored.summary["acc"] == 0.3
    names = {file.name for file in stored.files()}
    assert {"weights.txt", "nested/vocab.json"} <= names and "output.log" not in names
    assert Path(fork.dir or "", "files", "weights.txt").read_text() == "epoch 2"
