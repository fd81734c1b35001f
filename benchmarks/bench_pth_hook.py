"""What the start-up hook ``tracker_hf_autoregister.pth`` costs every Python process of an environment.

New virtual environments of the same interpreter, without pip:

- ``bare``: nothing installed; ``python -c pass`` there is the floor.
- ``other``: only a one-line ``import os`` ``.pth``, standing for the ``.pth`` files most
  environments already have (setuptools' ``distutils-precedence.pth``, editable installs). The first
  ``.pth`` line a process runs pays a one-time cost of Python's compiler, whoever ships it.
- ``hooked``: the same line, and this project installed from a wheel built from the sources, so its
  real ``.pth`` is in site-packages; also run with ``TRACKER_HF_AUTOREGISTER=0``.

Measured, interleaved over many fresh processes (medians, quartiles):

- ``site.main()``, the whole of the interpreter's site set-up (every ``.pth`` line included; Python
  3.11 runs a venv's ``.pth`` files twice), timed inside a ``python -S`` child in CPU time and wall
  time. These are the precise figures: CPU time is not inflated by other processes on the machine.
- ``-X importtime``'s figure for ``site``, and the wall-clock of a whole ``python -c pass``: the
  honest totals, but noisy on a loaded machine.
- In one process: the hook's line compiled and run (as ``site.py`` does), and one call of the
  stub's ``find_spec`` (the stub sees every import of a process until transformers loads).

Budget (issue: "well under 1 ms at interpreter start"): the median CPU time the hook adds to
``site.main()``, over ``other``, <= 1 ms; ``bare`` shows what the first ``.pth`` line of any kind costs.

Run:  python benchmarks/bench_pth_hook.py [--procs N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import timeit
from pathlib import Path

from _common import median, quartiles, table, verdict

ROOT = Path(__file__).resolve().parents[1]
HOOK = "tracker_hf_autoregister.pth"
OTHER = "other-package.pth"
BUDGET_S = 1e-3

SITE_MAIN = """
import json, site, time
cpu, wall = time.process_time(), time.perf_counter()
site.main()
print(json.dumps([time.process_time() - cpu, time.perf_counter() - wall]))
"""


def make_venv(where: Path) -> tuple[str, Path]:
    """A new venv without pip: (its python, its site-packages)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = str(where / "bin" / "python")
    site_packages = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip()
    return python, Path(site_packages)


def install_wheel(work: Path, python: str) -> None:
    """Build a wheel from a copy of the sources and install it (no dependencies) into ``python``'s environment."""
    sources = work / "src"
    shutil.copytree(ROOT, sources, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "dist", "*.egg-info", "tracker_runs", "__pycache__", ".*_cache", ".hypothesis"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-index", "--no-build-isolation", "-w", str(work / "dist"),
                    str(sources)], check=True)
    [wheel] = (work / "dist").glob("tracker-*.whl")
    subprocess.run([*pip, "--python", python, "install", "--no-deps", "--no-index", str(wheel)], check=True)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "TRACKER_HF_AUTOREGISTER")}
    return {**env, **extra}


def site_main(python: str, env: dict[str, str]) -> tuple[float, float]:
    """(CPU, wall) seconds of ``site.main()`` in a fresh ``python -S``."""
    done = subprocess.run([python, "-S", "-c", SITE_MAIN], env=env, capture_output=True, text=True, check=True)
    cpu, wall = json.loads(done.stdout)
    return cpu, wall


def site_import(python: str, env: dict[str, str]) -> float:
    """Cumulative ``site`` import time in seconds, from ``-X importtime`` (it includes the .pth lines)."""
    done = subprocess.run([python, "-X", "importtime", "-c", "pass"], env=env, capture_output=True, text=True,
                          check=True)
    [line] = [line for line in done.stderr.splitlines() if re.search(r"\|\s+site$", line)]
    return int(line.split("|")[1]) * 1e-6


def process_wall(python: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([python, "-c", "pass"], env=env, check=True)
    return time.perf_counter() - start


def in_process(hook_path: Path) -> tuple[float, float, float]:
    """CPU seconds: (compiling the hook's line, running it, one stub ``find_spec`` call for another module)."""
    [line] = [line for line in hook_path.read_text().splitlines() if line.startswith("import")]
    saved = os.environ.pop("TRACKER_HF_AUTOREGISTER", None)
    try:
        compile_s = min(timeit.repeat(lambda: compile(line, str(hook_path), "exec"), number=200, repeat=7,
                                      timer=time.process_time)) / 200
        code = compile(line, str(hook_path), "exec")

        def run_line() -> None:
            exec(code, {})  # what site.py does with the line
            del sys.meta_path[0]

        run_s = min(timeit.repeat(run_line, number=2000, repeat=7, timer=time.process_time)) / 2000
        exec(code, {})
        stub = sys.meta_path[0]
        assert type(stub).__name__ == "TrackerStartUpHook", sys.meta_path
        find_s = min(timeit.repeat(lambda: stub.find_spec("json.decoder", None, None), number=100_000, repeat=7,
                                   timer=time.process_time)) / 100_000
        sys.meta_path.remove(stub)
    finally:
        if saved is not None:
            os.environ["TRACKER_HF_AUTOREGISTER"] = saved
    return compile_s, run_s, find_s


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=100, help="fresh processes per contender and measure")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pth-") as tmp:
        work = Path(tmp)
        bare, _ = make_venv(work / "bare")
        other, other_site = make_venv(work / "other")
        hooked, hooked_site = make_venv(work / "hooked")
        for site_packages in (other_site, hooked_site):
            (site_packages / OTHER).write_text("import os\n")
        install_wheel(work, hooked)
        assert (hooked_site / HOOK).is_file(), f"the wheel installed no {HOOK}"
        contenders = {"bare (floor)": (bare, clean_env()), "other .pth": (other, clean_env()),
                      "other .pth + hook": (hooked, clean_env()),
                      "other .pth + hook, TRACKER_HF_AUTOREGISTER=0": (hooked, clean_env(TRACKER_HF_AUTOREGISTER="0"))}
        measures: dict[str, dict[str, list[float]]] = {
            name: {"cpu": [], "wall": [], "import": [], "process": []} for name in contenders}
        for _ in range(options.procs + 3):  # the first 3 rounds warm the caches and are dropped
            for name, (python, env) in contenders.items():
                cpu, wall = site_main(python, env)
                measured = measures[name]
                measured["cpu"].append(cpu)
                measured["wall"].append(wall)
                measured["import"].append(site_import(python, env))
                measured["process"].append(process_wall(python, env))
        for measured in measures.values():
            for values in measured.values():
                del values[:3]
        compile_s, run_s, find_s = in_process(hooked_site / HOOK)

    rows = []
    for name, measured in measures.items():
        cells = [name]
        for key in ("cpu", "wall", "import"):
            q1, q3 = quartiles(measured[key])
            cells.append(f"{us(median(measured[key]))} ({us(q1)}-{us(q3)})")
        cells.append(f"{median(measured['process']) * 1e3:.1f}")
        rows.append(cells)
    print(f"python {sys.version.split()[0]} ({sysconfig.get_platform()}), {options.procs} fresh processes per "
          f"contender and measure, interleaved; medians (quartiles); load average {os.getloadavg()[0]:.1f}")
    print(table(["interpreter start", "site.main() CPU µs", "site.main() wall µs", "-X importtime site µs",
                 "python -c pass ms"], rows))

    def added(key: str, name: str, base: str) -> float:
        return median(measures[name][key]) - median(measures[base][key])

    print()
    for name, base in (("other .pth + hook", "other .pth"), ("other .pth + hook", "bare (floor)"),
                       ("other .pth", "bare (floor)"), ("other .pth + hook, TRACKER_HF_AUTOREGISTER=0", "other .pth")):
        print(f"{name} vs {base}: site.main() CPU {added('cpu', name, base) * 1e6:+.0f} µs, "
              f"wall {added('wall', name, base) * 1e6:+.0f} µs; -X importtime site "
              f"{added('import', name, base) * 1e6:+.0f} µs; "
              f"python -c pass {added('process', name, base) * 1e6:+.0f} µs")
    print(f"the hook's line alone, CPU: compiled {compile_s * 1e6:.1f} µs, run {run_s * 1e6:.1f} µs (site.py does "
          "both, twice in a Python 3.11 venv)")
    print(f"the stub's find_spec for any other module: {find_s * 1e9:.0f} ns CPU per import "
          f"(e.g. {find_s * 1000 * 1e3:.2f} ms over 1000 imports, about what `import torch` does)")
    extra = added("cpu", "other .pth + hook", "other .pth")
    print(f"{verdict(extra <= BUDGET_S)}  the hook adds {extra * 1e6:+.0f} µs CPU to site.main() "
          f"<= {BUDGET_S * 1e6:.0f} µs")
    return 0 if extra <= BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
