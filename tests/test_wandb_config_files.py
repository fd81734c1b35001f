"""W&B's config files: ``init(config="config.yaml")``, ``config-defaults.yaml`` in the current folder and
``config.update("extra.yaml")``, in W&B's ``key: {desc, value}`` shape or plain."""

from __future__ import annotations

from pathlib import Path

import pytest

import tracker_core
from tracker_core import Api, SettingsError

WANDB_SHAPE = """\
wandb_version: 1
epochs:
  desc: Number of epochs to train over
  value: 100
batch_size:
  desc: Size of each mini-batch
  value: 32
optimizer:
  value: {name: adam, betas: [0.9, 0.999]}
_wandb:
  desc: null
  value: {cli_version: 0.31.0}
"""


def _stored_config(run: tracker_core.Run) -> dict:
    return dict(Api().run(run.path).config)


def test_init_reads_a_yaml_file_in_wandbs_shape(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(WANDB_SHAPE)
    run = tracker_core.init(project="cfg", config=str(path))
    assert run.config.epochs == 100 and run.config.optimizer.name == "adam"
    run.finish()
    assert _stored_config(run) == {"epochs": 100, "batch_size": 32,
                                   "optimizer": {"name": "adam", "betas": [0.9, 0.999]}}


def test_config_defaults_yaml_in_the_current_folder_sits_under_the_config_passed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config-defaults.yaml").write_text(WANDB_SHAPE)
    (tmp_path / "extra.yaml").write_text("dropout: 0.1\nlr: 0.001\n")  # plain keys work too
    run = tracker_core.init(project="cfg", config={"epochs": 3})
    run.config.update(Path("extra.yaml"))
    assert run.config.epochs == 3 and run.config.batch_size == 32 and run.config.lr == 0.001
    run.finish()
    assert _stored_config(run) == {"epochs": 3, "batch_size": 32, "dropout": 0.1, "lr": 0.001,
                                   "optimizer": {"name": "adam", "betas": [0.9, 0.999]}}
    alone = tracker_core.init(project="cfg")  # no config= at all: the defaults
    assert alone.config.epochs == 100
    alone.finish()


@pytest.mark.parametrize(("text", "words"), [
    ("a: [1, 2\n", "not valid YAML"),
    ("- 1\n- 2\n", "not a mapping"),
    ("wandb_version: 2\nx: {value: 1}\n", "wandb_version 2"),
])
def test_a_bad_config_file_raises_at_init_and_leaves_no_run(tmp_path: Path, store: Path, text: str,
                                                            words: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=words):
        tracker_core.init(project="cfg", config=path)
    with pytest.raises(SettingsError, match="no config file"):
        tracker_core.init(project="cfg", config=str(tmp_path / "missing.yaml"))
    assert len(Api().runs("cfg")) == 0


def test_an_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    run = tracker_core.init(project="cfg", config=tmp_path / "empty.yaml")
    assert dict(run.config) == {}
    run.finish()
