"""run.config: attribute and item access, guarded changes, recorded in the log."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

import tracker_core
from tracker_core import ConfigChangeError, SettingsError, TrackerWarning

CONFIG = {"learning_rate": 3e-4, "batch_size": 512, "optimizer": {"name": "AdamW", "wd": 0.1}}


def test_attribute_and_item_access_including_nested() -> None:
    cfg = tracker_core.init(project="cfg", config=CONFIG).config
    assert cfg.learning_rate == 3e-4 and cfg["batch_size"] == 512
    assert cfg.optimizer.name == "AdamW" and cfg["optimizer"]["wd"] == 0.1
    assert "batch_size" in cfg and len(cfg) == 3
    with pytest.raises(AttributeError):
        _ = cfg.missing


def test_new_keys_are_added_and_changes_need_allow_val_change() -> None:
    run = tracker_core.init(project="cfg", config=CONFIG)
    run.config.update({"warmup": 2000})
    run.config.epochs = 3
    run.config["batch_size"] = 512  # the same value is not a change
    with pytest.raises(ConfigChangeError, match=r"(?s)batch_size.*allow_val_change"):
        run.config.update({"batch_size": 64})
    with pytest.raises(ConfigChangeError):
        run.config.learning_rate = 1.0
    run.config.update({"batch_size": 64}, allow_val_change=True)
    run.finish()
    stored = tracker_core.Api().run(run.path).config
    assert stored == {**CONFIG, "warmup": 2000, "epochs": 3, "batch_size": 64}


def test_namespace_and_dataclass_configs_are_accepted() -> None:
    @dataclasses.dataclass
    class Hparams:
        lr: float = 0.1
        layers: tuple = (64, 64)

    run = tracker_core.init(project="cfg", config=argparse.Namespace(seed=1, name="x"))
    run.config.update(Hparams())
    run.finish()
    assert tracker_core.Api().run(run.path).config == {"seed": 1, "name": "x", "lr": 0.1, "layers": [64, 64]}


def test_a_non_mapping_config_raises_at_init_with_a_hint() -> None:
    with pytest.raises(SettingsError, match="Hint: pass a dict"):
        tracker_core.init(project="cfg", config=[1, 2])


def test_an_unencodable_config_value_is_left_out_with_a_warning() -> None:
    with pytest.warns(TrackerWarning, match="model"):
        run = tracker_core.init(project="cfg", config={"lr": 0.1, "model": object()})
    run.finish()
    assert tracker_core.Api().run(run.path).config == {"lr": 0.1}


def test_nested_sections_are_read_only() -> None:
    cfg = tracker_core.init(project="cfg", config=CONFIG).config
    with pytest.raises(TypeError, match="allow_val_change"):
        cfg.optimizer.name = "SGD"


def test_non_string_keys_become_strings_and_complex_values_become_text_as_in_wandb() -> None:
    np = pytest.importorskip("numpy")
    config = {3: 4, np.int64(22): "twenty-two", 1.5: "f", "nested": {7: [1, 2], np.int32(8): {None: 0}},
              "z": np.complex128(1 + 2j), "w": 3 - 1j}
    run = tracker_core.init(project="cfg", config=config)
    run.config.update({np.int64(5): np.float32(0.5)})
    run.finish()
    stored = tracker_core.Api().run(run.path).config
    assert stored == {"3": 4, "22": "twenty-two", "1.5": "f", "nested": {"7": [1, 2], "8": {"None": 0}},
                      "z": "(1+2j)", "w": "(3-1j)", "5": 0.5}
    assert run.config["22"] == "twenty-two"


def test_keys_that_are_neither_text_nor_numbers_are_still_left_out_with_a_warning() -> None:
    with pytest.warns(TrackerWarning, match="keys must be"):
        run = tracker_core.init(project="cfg", config={("a", 1): 2, "": 3, "ok": 1})
    run.finish()
    assert tracker_core.Api().run(run.path).config == {"ok": 1}
