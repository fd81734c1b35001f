"""Durability under SIGKILL: how many acknowledged records does each tracker lose?

A child process logs 4 scalars per step in a tight loop and, right after ``log()`` returns,
writes the step number to its stdout with one unbuffered ``write()`` (the step is then
"acknowledged"). The parent SIGKILLs the child after a random 2-12 s, lets any helper process the
tracker left behind finish (wandb's ``wandb-core`` service gets up to 30 s, then is killed too),
and reads the run back with the tracker's own storage:

- tracker_core: ``tracker_core.Api(dir).runs(project)[0].history()`` (also shows the inferred status)
- wandb offline: the ``.wandb`` file, a LevelDB-style log of protobuf records, decoded with
  ``wandb.proto.wandb_internal_pb2`` (wandb 0.31 ships no Python reader; the framing is parsed here)
- trackio: the ``metrics`` table of its local sqlite database ``$TRACKIO_DIR/<project>.db``

A peer that is not importable is reported "not installed". Budget (DESIGN.md): tracker_core loses 0.
Each try runs in its own temporary folder, deleted afterwards; nothing touches the network.
The default 3 tries per tracker take about 2-3 minutes.

Run:  python benchmarks/bench_kill.py [--tries N] [--seed S]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

from _common import ROW, installed, offline_env, table, verdict

PROJECT = "kill"


# ----- the child: log until killed -----------------------------------------------------------------

def child(name: str) -> None:
    ack = os.dup(1)  # acknowledgements go to the original stdout; anything else printed goes to stderr
    os.dup2(2, 1)
    if name == "tracker_core":
        import tracker_core

        log = tracker_core.init(project=PROJECT, console="off", silent=True).log
    elif name == "wandb":
        import wandb

        log = wandb.init(project=PROJECT, mode="offline", settings=wandb.Settings(console="off", silent=True)).log
    else:
        import trackio

        trackio.init(project=PROJECT, embed=False, auto_log_cpu=False, auto_log_gpu=False)
        log = trackio.log
    os.write(ack, b"ready\n")
    step, write = 0, os.write
    while True:
        log(ROW, step=step)
        write(ack, b"%d\n" % step)
        step += 1


# ----- readers: the steps each tracker kept ----------------------------------------------------------

def read_tracker_core(tmp: str) -> tuple[set[int], str]:
    import tracker_core

    runs = tracker_core.Api(os.path.join(tmp, "tracker")).runs(PROJECT)
    if not runs:
        return set(), "no run"
    return {row["_step"] for row in runs[0].history()}, f"status {runs[0].status}"


def _leveldb_records(data: bytes) -> list[bytes]:
    """Payloads of a wandb .wandb file: 7-byte file header, 32 KiB blocks, 7-byte record headers."""
    records, pos, pending = [], 7, b""
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        if left < 7:  # the block's tail is padding
            pos += left
            continue
        _checksum, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk = data[pos + 7:pos + 7 + length]
        if len(chunk) < length or kind == 0:
            break  # a torn or zeroed tail
        pos += 7 + length
        if kind == 1:  # FULL
            records.append(chunk)
        elif kind == 2:  # FIRST
            pending = chunk
        elif kind == 3:  # MIDDLE
            pending += chunk
        elif kind == 4:  # LAST
            records.append(pending + chunk)
    return records


def read_wandb(tmp: str) -> tuple[set[int], str]:
    from wandb.proto import wandb_internal_pb2

    files = [os.path.join(root, f) for root, _, names in os.walk(tmp) for f in names if f.endswith(".wandb")]
    if not files:
        return set(), "no .wandb file"
    with open(files[0], "rb") as handle:
        data = handle.read()
    steps = set()
    for payload in _leveldb_records(data):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        if record.WhichOneof("record_type") == "history":
            steps.add(record.history.step.num)
    return steps, f".wandb file {len(data) // 1024} KiB"


def read_trackio(tmp: str) -> tuple[set[int], str]:
    path = os.path.join(tmp, "trackio", f"{PROJECT}.db")
    if not os.path.exists(path):
        return set(), "no database"
    with sqlite3.connect(path) as db:
        steps = {step for (step,) in db.execute("SELECT step FROM metrics")}
    return steps, "sqlite"


TRACKERS = {"tracker_core": ("tracker_core", read_tracker_core), "wandb": ("wandb", read_wandb),
            "trackio": ("trackio", read_trackio)}


# ----- the parent ----------------------------------------------------------------------------------

def last_acknowledged(path: str) -> int:
    """The highest step written whole to the acknowledgement file; -1 if none."""
    with open(path, "rb") as handle:
        lines = handle.read().split(b"\n")[:-1]  # the part after the last newline is incomplete
    return next((int(line) for line in reversed(lines) if line.isdigit()), -1)


def wait_for(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def one_try(name: str, kill_after: float) -> list[object]:
    tmp = tempfile.mkdtemp(prefix=f"bench_kill_{name}_")
    ack_path = os.path.join(tmp, "ack.txt")
    try:
        with open(ack_path, "wb") as ack, open(os.path.join(tmp, "stderr.txt"), "wb") as err:
            proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", name], cwd=tmp,
                                    env={**os.environ, **offline_env(tmp)}, stdout=ack, stderr=err,
                                    start_new_session=True)  # its own process group: helpers included
        try:
            if not wait_for(lambda: os.path.getsize(ack_path) > 0 or proc.poll() is not None, 120):
                raise RuntimeError("child not ready after 120 s")
            if proc.poll() is not None:
                with open(os.path.join(tmp, "stderr.txt"), errors="replace") as handle:
                    raise RuntimeError(f"child exited with {proc.returncode}:\n{handle.read()[-2000:]}")
            time.sleep(kill_after)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            helpers_done = wait_for(lambda: not group_alive(proc.pid), 30, 0.2)
        finally:
            if group_alive(proc.pid):
                os.killpg(proc.pid, signal.SIGKILL)
        acked = last_acknowledged(ack_path)
        stored, note = TRACKERS[name][1](tmp)
        lost = sum(1 for step in range(acked + 1) if step not in stored)
        if not helpers_done:
            note += "; helper process killed after 30 s"
        return [name, f"{kill_after:.1f}", acked + 1, len(stored), lost, note]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=3, help="kills per tracker (default 3)")
    parser.add_argument("--seed", type=int, help="seed for the random kill times")
    parser.add_argument("--child", choices=sorted(TRACKERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    rng = random.Random(args.seed)
    rows, ours_lost = [], []
    started = time.monotonic()
    for name, (module, _) in TRACKERS.items():
        if not installed(module):
            rows.append([name, "", "", "", "not installed", ""])
            continue
        for _ in range(args.tries):
            row = one_try(name, rng.uniform(2, 12))
            print("  " + "  ".join(map(str, row)), flush=True)
            rows.append(row)
            if name == "tracker_core":
                ours_lost.append(row[4])
    print()
    print(table(["tracker", "killed after s", "acknowledged", "stored", "lost", "read back"], rows))
    ok = bool(ours_lost) and all(n == 0 for n in ours_lost)
    print(f"\nbudget: tracker_core lost {ours_lost} acknowledged records in {len(ours_lost)} kills "
          f"(must be 0): {verdict(ok)}   [total {time.monotonic() - started:.0f} s]")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
