"""Start-up costs: ``import tracker_core``, the first ``init()`` + ``finish()`` and later ones, against peers.

Every figure comes from fresh Python subprocesses (medians over several), timed inside the child
with ``time.perf_counter`` from just before the first import; the interpreter's own start-up
(``python -c print()``, process wall time) is shown apart. Each child runs in a temporary folder
(not a git checkout), with every peer kept offline and writing under that folder, deleted at the end.

- ``import tracker_core``: ~10 fresh processes; also checks that torch, numpy, requests, pydantic
  and the frameworks are NOT in ``sys.modules`` afterwards.
- first ``init()`` + ``finish()`` in a process, imports included; then later ones in the same process.
- the same for wandb (offline) and trackio (local) when installed; otherwise "not installed".

Budgets (DESIGN.md, "Performance budgets"): import <= 100 ms; first init+finish <= 500 ms,
later ones <= 50 ms.

Run:  python benchmarks/bench_startup.py [--quick] [--procs N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from _common import installed, median, offline_env, table, verdict

HEAVY = ("torch", "numpy", "requests", "pydantic", "lightning", "transformers", "keras", "tensorflow", "jax")

IMPORT_CHILD = f"""
import json, sys, time
t0 = time.perf_counter()
import tracker_core
t1 = time.perf_counter()
print("RESULT", json.dumps({{"import": t1 - t0, "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""

# {imp}: the import statement; {once}: one init + finish; {later}: how many more in the same process
INIT_CHILD = """
import json, sys, time
t0 = time.perf_counter()
{imp}
t1 = time.perf_counter()
def once():
{once}
once()
t2 = time.perf_counter()
later = []
for _ in range({later}):
    a = time.perf_counter()
    once()
    later.append(time.perf_counter() - a)
print("RESULT", json.dumps({{"import": t1 - t0, "first": t2 - t0, "later": later}}))
"""

PEERS = {  # name: (module, import statement, body of once())
    "tracker_core": ("tracker_core", "import tracker_core",
                     "    tracker_core.init(project='startup', console='off', silent=True).finish()"),
    "wandb offline": ("wandb", "import wandb",
                      "    wandb.init(project='startup', mode='offline', "
                      "settings=wandb.Settings(console='off', silent=True)).finish()"),
    "trackio": ("trackio", "import trackio",
                "    trackio.init(project='startup', embed=False, auto_log_cpu=False, auto_log_gpu=False)\n"
                "    trackio.finish()"),
}


def child(code: str, cwd: str, env: dict[str, str]) -> tuple[dict, float]:
    """Run ``code`` in a fresh interpreter; its RESULT line and the process wall time in seconds."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    wall = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):]), wall


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer processes")
    parser.add_argument("--procs", type=int, help="fresh processes per measure (default 10, quick 4; peers fewer)")
    args = parser.parse_args()
    procs = args.procs or (4 if args.quick else 10)
    peer_procs, later = max(2, procs // 2), (2 if args.quick else 5)
    tmp = tempfile.mkdtemp(prefix="bench_startup_")
    env = {**os.environ, **offline_env(tmp)}
    results: dict[str, dict] = {}
    try:
        imports, heavy = [], set()
        for _ in range(procs):
            out, _ = child(IMPORT_CHILD, tmp, env)
            imports.append(out["import"])
            heavy.update(out["heavy"])
        bare = median([child("print('RESULT {}')", tmp, env)[1] for _ in range(procs)])
        for name, (module, imp, once) in PEERS.items():
            if not installed(module):
                results[name] = {}
                continue
            code = INIT_CHILD.format(imp=imp, once=once, later=later if name == "tracker_core" else 2)
            runs = [child(code, tmp, env) for _ in range(procs if name == "tracker_core" else peer_procs)]
            results[name] = {"import": median([r["import"] for r, _ in runs]),
                             "first": median([r["first"] for r, _ in runs]),
                             "later": median([x for r, _ in runs for x in r["later"]]),
                             "n": len(runs)}
        code = INIT_CHILD.format(imp=PEERS["tracker_core"][1], once=PEERS["tracker_core"][2], later=later)
        no_pkgs = [child(code, tmp, {**env, "TRACKER_PROVENANCE_EXCLUDE": "packages"})[0] for _ in range(peer_procs)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    ours = results["tracker_core"]
    checks = [
        ("import tracker_core", ms(median(imports)), f"{ms(min(imports))}-{ms(max(imports))}", "<= 100 ms",
         median(imports) <= 0.100),
        ("heavy modules loaded by the import", ", ".join(sorted(heavy)) or "none", "", "none", not heavy),
        ("first init()+finish(), imports included", ms(ours["first"]), "", "<= 500 ms", ours["first"] <= 0.500),
        ("later init()+finish() in the same process", ms(ours["later"]), "", "<= 50 ms", ours["later"] <= 0.050),
    ]
    print(f"bench_startup: {procs} fresh processes for tracker_core, {peer_procs} for peers; "
          f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"(a bare interpreter start, `python -c print()`, takes {ms(bare)} ms of process wall time)\n")
    print(table(["tracker_core", "median ms", "min-max ms", "budget", "verdict"],
                [[what, value, spread, budget, verdict(ok)] for what, value, spread, budget, ok in checks]))
    first_no_pkgs = median([r["first"] for r in no_pkgs])
    later_no_pkgs = median([x for r in no_pkgs for x in r["later"]])
    print(f"\ndiagnostic, with TRACKER_PROVENANCE_EXCLUDE=packages (finish() waits for the provenance thread): "
          f"first {ms(first_no_pkgs)} ms, later {ms(later_no_pkgs)} ms")
    peer_rows = []
    for name, r in results.items():
        if not r:
            peer_rows.append([name, "not installed", "", "", "", ""])
            continue
        peer_rows.append([name, ms(r["import"]), ms(r["first"]), ms(r["later"]), f"{r['first'] / ours['first']:.1f}x",
                          r["n"]])
    print()
    print(table(["fresh process", "import ms", "first init+finish ms (imports incl.)", "later init+finish ms",
                 "first / tracker_core", "procs"], peer_rows))
    return 0 if all(ok for *_, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
