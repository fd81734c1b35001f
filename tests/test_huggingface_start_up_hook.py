"""``report_to="tracker"`` in a plain script that imports nothing of ours, through the start-up hook
``tracker_hf_autoregister.pth`` that installing the package puts into site-packages.

Each install is real and new: a virtual environment made for the test, with this project installed
into it by pip, once editable (``pip install -e``, PEP 660) and once from a wheel built from a copy
of the sources. So that nothing is downloaded, the new environment reuses the test environment's
third-party packages (torch, transformers, pip, setuptools) through a plain path entry to a
directory of links to them, leaving out this project's own packages, metadata and ``.pth`` files. A
plain path entry is not a site directory, so no ``.pth`` file of the test environment runs there:
``tracker_core`` and the hook can only come from the install under test, which each test checks.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from _procs import child_env, run_command, write_script

import tracker_core
from tracker_core import SettingsError

pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]
HOOK = "tracker_hf_autoregister.pth"
OURS = ("tracker_core", "integrations", "tracker-", "tracker.", "__editable__", "__editable___tracker")

PLAIN_SCRIPT = """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

    class TokenIds(torch.utils.data.Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, index):
            ids = (torch.arange(8) + index) % 16
            return {"input_ids": ids, "labels": ids}

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=16, n_positions=8))
    args = TrainingArguments("out", report_to="tracker", project="plain", max_steps=2, logging_steps=1,
                             save_strategy="no", per_device_train_batch_size=4, use_cpu=True, disable_tqdm=True)
    try:
        Trainer(model=model, args=args, train_dataset=TokenIds()).train()
    except ValueError as exc:
        print("rejected:", exc)
"""

START_UP = """
    import json, sys
    state = {"modules": sorted(sys.modules), "finders": [type(f).__name__ for f in sys.meta_path]}
    import tracker_core
    state["core"] = tracker_core.__file__
    state["adapters_after_core"] = sorted(m for m in sys.modules if m.startswith("integrations"))
    import integrations.huggingface
    state["finders_after_adapter"] = [type(f).__name__ for f in sys.meta_path]
    print(json.dumps(state))
"""


class Install:
    """A new virtual environment with this project installed into it; ``run`` starts a fresh interpreter there."""

    def __init__(self, root: Path, packages: Path, kind: str) -> None:
        self.kind = kind
        made = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], capture_output=True,
                              text=True, timeout=120)
        assert made.returncode == 0, made.stderr
        self.python = str(root / "bin" / "python")
        self.site = Path(self._output("import sysconfig; print(sysconfig.get_paths()['purelib'])"))
        (self.site / "_test_environment_packages.pth").write_text(f"{packages}\n")

    def _output(self, code: str) -> str:
        done = subprocess.run([self.python, "-c", code], capture_output=True, text=True, timeout=60,
                              env=_plain_env())
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def pip_install(self, *args: str) -> None:
        done = subprocess.run([self.python, "-m", "pip", "install", "--no-deps", "--no-index", "--no-build-isolation",
                               "--disable-pip-version-check", "-q", *args], capture_output=True, text=True,
                              timeout=300, env=_plain_env())
        assert done.returncode == 0, done.stdout + done.stderr

    def run(self, tmp_path: Path, body: str, timeout: float = 240, **env: str) -> subprocess.CompletedProcess[str]:
        script = write_script(tmp_path, body, f"{self.kind}.py")
        return run_command([self.python, str(script)], env=_plain_env(**env), timeout=timeout, cwd=tmp_path)


def _plain_env(**extra: str) -> dict[str, str]:
    """The test's environment (its TRACKER_DIR included) without anything that would put our sources on the path."""
    env = child_env(**extra)
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test environment's installed packages, minus this project's, as a directory of symlinks."""
    view = tmp_path_factory.mktemp("packages")
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if entry.name.endswith(".pth") or entry.name.startswith(OURS) or entry.name == "__pycache__":
            continue
        (view / entry.name).symlink_to(entry)
    return view


@pytest.fixture(scope="module")
def editable(tmp_path_factory: pytest.TempPathFactory, packages: Path) -> Install:
    install = Install(tmp_path_factory.mktemp("editable") / "venv", packages, "editable")
    install.pip_install("-e", str(ROOT))
    return install


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory, packages: Path) -> Install:
    work = tmp_path_factory.mktemp("wheel")
    sources = work / "src"
    shutil.copytree(ROOT, sources, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "dist", "*.egg-info", "tracker_runs", "__pycache__", ".*_cache", ".hypothesis",
        "ui", "_ui"))  # the web UI bundle is another build step, not this test's
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index", "--no-build-isolation",
                            "--disable-pip-version-check", "-q", "-w", str(work / "dist"), str(sources)],
                           capture_output=True, text=True, timeout=300, env=_plain_env())
    assert built.returncode == 0, built.stdout + built.stderr
    [built_wheel] = (work / "dist").glob("tracker-*.whl")
    install = Install(work / "venv", packages, "wheel")
    install.pip_install(str(built_wheel))
    return install


@pytest.fixture(params=["editable", "wheel"])
def install(request: pytest.FixtureRequest) -> Install:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def _recorded_files(install: Install) -> list[str]:
    [record] = install.site.glob("tracker-*.dist-info/RECORD")
    return [line.split(",")[0] for line in record.read_text().splitlines()]


def test_the_install_puts_the_hook_into_site_packages(install: Install, tmp_path: Path) -> None:
    assert (install.site / HOOK).is_file()
    assert HOOK in _recorded_files(install)  # pip uninstall removes it with the rest
    done = install.run(tmp_path, START_UP)
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout)
    where = ROOT if install.kind == "editable" else install.site
    assert Path(state["core"]).resolve().is_relative_to(where.resolve())  # the code under test, not the test env's
    assert state["finders"].count("TrackerStartUpHook") == 1  # once, though Python 3.11 runs a venv's .pth twice
    assert state["adapters_after_core"] == []  # imports point one way, hook installed or not
    assert state["finders_after_adapter"].count("TrackerStartUpHook") == 1  # the adapter's arm() sees the stub
    assert "_RegisterOnImport" not in state["finders_after_adapter"]


def test_the_hook_imports_nothing_at_start_up(wheel: Install, tmp_path: Path) -> None:
    on, off = (json.loads(wheel.run(tmp_path, START_UP, TRACKER_HF_AUTOREGISTER=value).stdout) for value in ("1", "0"))
    assert on["modules"] == off["modules"]
    assert "TrackerStartUpHook" in on["finders"] and "TrackerStartUpHook" not in off["finders"]


@pytest.mark.parametrize(("value", "armed"), [
    ("", True), ("1", True), ("true", True), ("TRUE", True), ("0", False), ("false", False), (" False ", False)])
def test_tracker_hf_autoregister_switches_the_hook(editable: Install, tmp_path: Path, value: str, armed: bool) -> None:
    done = editable.run(tmp_path, "import sys; print([type(f).__name__ for f in sys.meta_path])",
                        TRACKER_HF_AUTOREGISTER=value)
    assert done.returncode == 0, done.stderr
    assert ("TrackerStartUpHook" in done.stdout) is armed


def test_a_plain_script_with_report_to_tracker_makes_one_finished_run(install: Install, tmp_path: Path) -> None:
    done = install.run(tmp_path, PLAIN_SCRIPT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rejected" not in done.stdout
    [run] = tracker_core.Api().runs("plain")
    assert run.status == "finished"
    assert [row["train/global_step"] for row in run.history() if "train/loss" in row] == [1, 2]


def test_switched_off_transformers_rejects_the_name(install: Install, tmp_path: Path) -> None:
    done = install.run(tmp_path, PLAIN_SCRIPT, TRACKER_HF_AUTOREGISTER="0")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rejected: tracker is not supported" in done.stdout
    assert tracker_core.Api().runs("plain") == []


def test_a_bad_value_is_an_error_when_the_callback_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    from integrations.huggingface import TrackerCallback

    monkeypatch.setenv("TRACKER_HF_AUTOREGISTER", "no")
    with pytest.raises(SettingsError, match=r"(?s)TRACKER_HF_AUTOREGISTER.*true, false, 1 or 0"):
        TrackerCallback()
