"""Settings: argument > TRACKER_* variable > default; bad values fail at init with a hint."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import tracker_core
from tracker_core import SettingsError
from tracker_core._settings import ALL_ENV_VARS, resolve_settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_argument_beats_environment_beats_default() -> None:
    env = {"TRACKER_PROJECT": "from-env", "TRACKER_FSYNC_INTERVAL": "2.5"}
    assert resolve_settings({"project": "from-arg"}, env).project == "from-arg"
    assert resolve_settings({}, env).project == "from-env"
    assert resolve_settings({}, env).fsync_interval == 2.5
    assert resolve_settings({}, {}).project == "uncategorized"


@pytest.mark.parametrize("word", ["yes", "on", "2", "True!"])
def test_boolean_variables_accept_only_true_false_1_0(word: str) -> None:
    with pytest.raises(SettingsError, match=r"(?s)TRACKER_STRICT.*Hint: use true, false, 1 or 0"):
        resolve_settings({}, {"TRACKER_STRICT": word})


@pytest.mark.parametrize("word", ["TRUE", "false", "1", "0"])
def test_boolean_words_that_are_accepted(word: str) -> None:
    assert resolve_settings({}, {"TRACKER_STRICT": word}).strict is (word in ("TRUE", "1"))


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({"mode": "loud"}, "'offline'"),  # W&B's online and dryrun are accepted (test_wandb_init_options)
        ({"console": "on"}, "allowed: 'auto', 'off'"),
        ({"tags": "phase-1"}, "list of strings"),
        ({"fsync_interval": -1}, "greater than or equal to 0"),
        ({"id": "has/slash"}, "pattern"),
        ({"project": "a/b"}, "pattern"),
        ({"project": ".."}, "pattern"),
        ({"project": "artifacts"}, "keeps artifacts"),
        ({"provenance_exclude": ["gitt"]}, "choose from"),
    ],
)
def test_bad_values_name_the_setting_and_the_fix(arguments: dict, match: str) -> None:
    with pytest.raises(SettingsError, match=match) as raised:
        tracker_core.init(**arguments)
    assert "Hint:" in str(raised.value)


def test_an_unknown_option_suggests_the_closest_one() -> None:
    with pytest.raises(SettingsError, match="did you mean 'project'"):
        tracker_core.init(projct="x")


def test_the_source_of_a_bad_environment_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_CONSOLE", "loud")
    with pytest.raises(SettingsError, match="environment variable TRACKER_CONSOLE"):
        tracker_core.init(project="p")


def test_every_variable_is_declared_once_and_documented_in_the_readme() -> None:
    assert len(set(ALL_ENV_VARS)) == len(ALL_ENV_VARS)
    documented = set(re.findall(r"`(TRACKER_[A-Z0-9_]+)`", README.read_text(encoding="utf-8")))
    assert set(ALL_ENV_VARS) <= documented


def test_store_root_comes_from_dir_then_environment(tmp_path: Path, store: Path) -> None:
    run = tracker_core.init(project="p", dir=tmp_path / "explicit")
    assert Path(run.dir).parent.parent == tmp_path / "explicit"
    run.finish()
    run = tracker_core.init(project="p")
    assert Path(run.dir).parent.parent == store
