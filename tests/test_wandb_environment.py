"""WANDB_* variables are read when their TRACKER_* twin is unset, with W&B's words translated."""

from __future__ import annotations

from pathlib import Path

import pytest
from _procs import child_env, run_script

import tracker_core
from tracker_core import SettingsError
from tracker_core._settings import FALLBACK_ENV_VARS, AdapterSettings, resolve, resolve_settings

README = Path(__file__).resolve().parents[1] / "README.md"
WANDB_NAMES = ["WANDB_PROJECT", "WANDB_ENTITY", "WANDB_RUN_ID", "WANDB_RESUME", "WANDB_NAME", "WANDB_NOTES",
               "WANDB_TAGS", "WANDB_RUN_GROUP", "WANDB_JOB_TYPE", "WANDB_DIR", "WANDB_MODE", "WANDB_LOG_MODEL",
               "WANDB_WATCH", "WANDB_SILENT", "WANDB_CONSOLE", "WANDB_AGENT_KILL_DELAY"]
# setting, TRACKER_* value, WANDB_* value, what the WANDB_* value becomes
SAMPLES = {
    "project": ("ours", "theirs", "theirs"), "entity": ("team-a", "team-b", "team-b"),
    "id": ("run1", "run2", "run2"), "resume": ("must", "never", "never"), "name": ("a", "b", "b"),
    "notes": ("n1", "n2", "n2"), "tags": ("x", "y,z", ("y", "z")), "group": ("g1", "g2", "g2"),
    "job_type": ("train", "eval", "eval"), "dir": ("/ours", "/theirs", "/theirs/tracker_runs"),
    "mode": ("disabled", "dryrun", "offline"), "silent": ("false", "true", True), "console": ("off", "wrap", "auto"),
}


def test_every_wandb_variable_has_one_tracker_twin() -> None:
    assert sorted(FALLBACK_ENV_VARS.values()) == sorted(WANDB_NAMES)
    assert all(twin.startswith("TRACKER_") for twin in FALLBACK_ENV_VARS)


@pytest.mark.parametrize("setting", sorted(SAMPLES))
def test_argument_beats_tracker_variable_beats_wandb_variable(setting: str) -> None:
    from tracker_core._settings import ENV_VARS

    ours, theirs, theirs_read = SAMPLES[setting]
    tracker_var = ENV_VARS[setting]
    wandb_var = FALLBACK_ENV_VARS[tracker_var]
    assert getattr(resolve_settings({}, {wandb_var: theirs}), setting) == theirs_read
    both = resolve_settings({}, {wandb_var: theirs, tracker_var: ours})
    assert getattr(both, setting) == getattr(resolve_settings({}, {tracker_var: ours}), setting)
    assert getattr(both, setting) != theirs_read
    empty_ours = resolve_settings({}, {wandb_var: theirs, tracker_var: ""})  # an empty variable is unset
    assert getattr(empty_ours, setting) == theirs_read


@pytest.mark.parametrize(("variable", "word", "setting", "expected"), [
    ("WANDB_MODE", "dryrun", "mode", "offline"), ("WANDB_MODE", "offline", "mode", "offline"),
    ("WANDB_MODE", "disabled", "mode", "disabled"), ("WANDB_MODE", "online", "mode", "offline"),
    ("WANDB_RESUME", "allow", "resume", "allow"), ("WANDB_RESUME", "must", "resume", "must"),
    ("WANDB_RESUME", "never", "resume", "never"), ("WANDB_RESUME", "auto", "resume", "auto"),
    ("WANDB_RESUME", "true", "resume", "auto"),
    ("WANDB_RESUME", "false", "resume", None), ("WANDB_CONSOLE", "redirect", "console", "auto"),
    ("WANDB_CONSOLE", "off", "console", "off"), ("WANDB_SILENT", "True", "silent", True),
])
def test_wandb_words_map_onto_ours(variable: str, word: str, setting: str, expected: object) -> None:
    settings = resolve_settings({}, {variable: word})
    if setting == "mode" and word == "online":  # W&B's syncing mode: ours where it exists, else the local store
        assert settings.mode in ("online", "offline")
    else:
        assert getattr(settings, setting) == expected


@pytest.mark.parametrize(("environ", "expected"), [
    ({"WANDB_LOG_MODEL": "checkpoint", "WANDB_WATCH": "all"}, ("checkpoint", "all")),
    ({"WANDB_LOG_MODEL": "true"}, ("end", None)),  # HF's old word for the end of training
    ({"WANDB_LOG_MODEL": "false", "WANDB_WATCH": "false"}, ("false", "false")),
    ({"WANDB_LOG_MODEL": "end", "TRACKER_LOG_MODEL": "false"}, ("false", None)),
])
def test_adapter_settings_read_wandb_variables_too(environ: dict[str, str], expected: tuple) -> None:
    options = resolve(AdapterSettings, {}, environ)
    assert (options.log_model, options.watch) == expected


def test_a_bad_wandb_value_names_the_wandb_variable() -> None:
    with pytest.raises(SettingsError, match=r"(?s)environment variable WANDB_MODE.*Hint:"):
        resolve_settings({}, {"WANDB_MODE": "shared-offline"})
    with pytest.raises(SettingsError, match=r"(?s)WANDB_SILENT.*Hint: use true, false, 1 or 0"):
        resolve_settings({}, {"WANDB_SILENT": "yes"})


def test_the_readme_settings_table_names_each_fallback_on_its_twins_row() -> None:
    text = README.read_text(encoding="utf-8")
    for tracker_var, wandb_var in FALLBACK_ENV_VARS.items():
        rows = [line for line in text.splitlines() if line.startswith("|") and f"`{tracker_var}`" in line]
        assert rows and all(f"`{wandb_var}`" in row for row in rows), tracker_var


SCRIPT = """
    import os
    import tracker_core as wandb

    run = wandb.init()  # everything from the environment, as a W&B script set up by its launcher
    start = run.step
    for step in range(start, start + 3):
        wandb.log({"loss": 1.0 / (step + 1)}, step=step)
    print("resumed" if start else "fresh", run.id, run.project, run.dir, flush=True)
    wandb.finish()
"""


def test_a_wandb_environment_drives_init_and_resume_end_to_end(tmp_path: Path) -> None:
    env = child_env(WANDB_PROJECT="hf-docs-project", WANDB_RUN_ID="abc123", WANDB_RESUME="allow",
                    WANDB_NAME="bert-finetune", WANDB_TAGS="hf,baseline", WANDB_RUN_GROUP="sweep-1",
                    WANDB_JOB_TYPE="train", WANDB_NOTES="from the environment", WANDB_DIR=str(tmp_path / "work"),
                    WANDB_ENTITY="nlp-team")
    del env["TRACKER_DIR"]
    first = run_script(tmp_path, SCRIPT, env=env)
    second = run_script(tmp_path, SCRIPT, env=env)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.split()[:3] == ["fresh", "abc123", "hf-docs-project"]
    assert second.stdout.split()[:3] == ["resumed", "abc123", "hf-docs-project"]
    assert first.stdout.split()[3] == str(tmp_path / "work" / "tracker_runs" / "hf-docs-project" / "abc123")
    (stored,) = tracker_core.Api(tmp_path / "work" / "tracker_runs").runs("nlp-team/hf-docs-project")
    assert (stored.id, stored.name, stored.tags, stored.group, stored.job_type, stored.notes, stored.entity) == (
        "abc123", "bert-finetune", ["hf", "baseline"], "sweep-1", "train", "from the environment", "nlp-team")
    assert [row["_step"] for row in stored.history()] == [0, 1, 2, 3, 4, 5] and stored.state == "finished"
    refused = run_script(tmp_path, SCRIPT, env={**env, "WANDB_RESUME": "never"})
    assert refused.returncode != 0 and "abc123" in refused.stderr
