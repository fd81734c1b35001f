"""The `tracker` command line (issue 3): real stores written by real runs, read through the real CLI."""

from __future__ import annotations

import csv
import datetime
import importlib
import importlib.util
import io
import json
import math
import sys
import time
from collections.abc import Callable
from itertools import zip_longest
from pathlib import Path
from typing import Any

import pytest
from _procs import child_env, run_command, run_script

import tracker_core
from tracker_core import Api
from tracker_core.cli import main

P = "vision"
NAN = float("nan")
LONG = "sweep-lr1e-3-bs32-adam-cosine-warmup500-seed1234-label-smoothing"  # a long but real-world run name
SHARED = "shared-run-001"
TRACKER = Path(sys.executable).with_name("tracker")
CHILD = """
    import json, os, sys
    import tracker_core
    spec = json.loads(sys.argv[1])
    run = tracker_core.init(**spec["init"])
    for step, row in enumerate(spec["rows"]):
        run.log(row, step=step)
    print("hello from the console", run.id, flush=True)
    if spec["end"] == "exit":
        os._exit(3)
    if spec["end"] == "raise":
        raise RuntimeError("loss exploded")
"""


def _cfg(lr: float, optimizer: str, batch: int) -> dict[str, Any]:
    return {"lr": lr, "optimizer": {"name": optimizer}, "batch_size": batch}


RUNS = [  # name, config, group, tags, val/loss per step, val/acc per step, how it ends; made in this order
    ("base", _cfg(1e-3, "adam", 32), "sweep-a", ["phase-1"], [0.9, 0.4, 0.6], [0.5, 0.8, 0.7], "finish"),
    ("nanbest", _cfg(3e-4, "adam", 32), "sweep-a", ["phase-1"], [0.7, NAN, 0.3, NAN], [0.6, 0.85], "finish"),
    ("allnan", _cfg(1e-4, "sgd", 64), "sweep-b", ["phase-2"], [NAN, NAN], [0.9], "finish"),
    ("failed", _cfg(1e-2, "sgd", 64), "sweep-b", ["phase-2"], [0.5, 0.25], [0.95], "fail"),
    ("crashed", _cfg(2e-3, "adam", 32), "sweep-b", ["phase-2"], [0.45], [0.75], "exit"),  # child: os._exit(3)
    ("raised", _cfg(5e-3, "adam", 32), None, [], [1.5], [0.1], "raise"),  # child: an uncaught exception
    (LONG, _cfg(1e-3, "adam", 32), None, [], [0.8], [0.55], "child"),  # child with console capture on
]
NEWEST_FIRST = [r[0] for r in RUNS][::-1]
W = dict[str, str]


def _made(rows: list[dict[str, Any]], exit_code: int = 0, **init: Any) -> str:
    run = tracker_core.init(**init)
    for step, row in enumerate(rows):
        run.log(row, step=step)
    run.finish(exit_code=exit_code)
    return run.id


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> W:
    """One store, built once: the RUNS of project P, a tie, a 2000-row run, one id in two projects; name -> id."""
    tmp = tmp_path_factory.mktemp("cli")
    world = {"ROOT": str(tmp / "store")}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"TRACKER_DIR": world["ROOT"], "TRACKER_CONSOLE": "off", "TRACKER_SILENT": "true"}.items():
            mp.setenv(key, value)
        for name, config, group, tags, losses, accs, end in RUNS:
            rows = [{k: v for k, v in (("val/loss", loss), ("val/acc", acc)) if v is not None}
                    for loss, acc in zip_longest(losses, accs)]
            init = {"project": P, "name": name, "config": config, "group": group, "tags": tags, "dir": world["ROOT"]}
            if end in ("finish", "fail"):
                world[name] = _made(rows, 1 if end == "fail" else 0, **init)
            else:
                env = child_env(TRACKER_CONSOLE="auto") if end == "child" else None
                done = run_script(tmp, CHILD, json.dumps({"init": init, "rows": rows, "end": end}), env=env)
                assert done.returncode == {"exit": 3, "raise": 1}.get(end, 0), done.stderr
                world[name] = done.stdout.split()[-1]
            if name == "failed":  # --since this moment selects the three child runs
                time.sleep(0.05)
                world["SINCE"] = datetime.datetime.now().isoformat()
                time.sleep(0.05)
        for name, losses in [("t1", [0.5, 0.2]), ("t2", [0.2]), ("t3", [0.3])]:
            world[name] = _made([{"loss": v} for v in losses], project="ties", name=name, dir=world["ROOT"])
        rows = [{"loss": NAN if s == 100 else 1 / (s + 1), **({"acc": s} if s % 500 == 0 else {})} for s in range(2000)]
        world["long"] = _made(rows, project="long", name="long", dir=world["ROOT"])
        for project in ("dup-a", "dup-b"):
            _made([{"loss": 1.0}], project=project, id=SHARED, dir=world["ROOT"])
    return world


def _call(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(args)
    except SystemExit as exit_:  # argparse's own errors, as the console script would see them
        code = exit_.code if isinstance(exit_.code, int) else 2
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cli(world: W, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    return lambda *args: _call(capsys, ["--dir", world["ROOT"], *args])


def _json(result: tuple[int, str, str]) -> Any:
    assert result[0] == 0, result[2]
    return json.loads(result[1])


def _ids(out: str) -> list[str]:  # the first column of a table's rows
    return [line.split()[0] for line in out.splitlines()[2:]]


def _section(out: str, header: str) -> str:  # the indented lines after the line starting with header
    lines = out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith(header))) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith(" ")), len(lines))
    return "\n".join(lines[start:end])


def test_best_gives_run_value_status_and_the_step_it_was_reached_at(world: W, cli: Any) -> None:
    code, out, err = cli("best", "val/loss", "--goal", "min", "--project", P)
    assert code == 0, err
    assert "Best val/loss (min) over 7 runs: 0.25 at step 1" in out
    assert f"{P}/{world['failed']}  'failed'" in out and "status  failed" in out
    found = _json(cli("best", "val/acc", "--goal", "max", "--project", P, "--json"))
    assert (found["id"], found["value"], found["step"], found["status"]) == (world["failed"], 0.95, 0, "failed")
    assert (found["runs_compared"], found["ties"]) == (7, [])


def test_best_never_picks_nan_but_counts_a_runs_finite_steps(world: W, cli: Any) -> None:
    found = _json(cli("best", "val/loss", "--status", "finished", "--project", P, "--json"))
    assert (found["id"], found["value"], found["step"]) == (world["nanbest"], 0.3, 2)  # NaN at steps 1 and 3
    found = _json(cli("best", "val/loss", "--goal", "max", "--group", "sweep-b", "--json"))
    assert (found["id"], found["value"], found["step"]) == (world["failed"], 0.5, 0)  # not the all-NaN run
    code, out, err = cli("best", "val/loss", "--project", P, "--filter", "name=allnan")
    assert code == 1 and out == "" and "every value of 'val/loss' in the selected runs is NaN" in err


def test_best_over_only_nan_values_does_not_suggest_the_metric_asked_for(cli: Any) -> None:
    err = cli("best", "val/loss", "--project", P, "--filter", "name=allnan")[2]
    assert "did you mean val/loss?" not in err, f"suggests the very metric that was asked for: {err!r}"


def test_best_tie_goes_to_the_earliest_run_and_lists_the_others(world: W, cli: Any) -> None:
    code, out, err = cli("best", "loss", "--project", "ties")
    assert code == 0, err
    assert "over 3 runs: 0.2 at step 1" in out and f"ties/{world['t1']}  't1'" in out
    assert f"tied with 1: ties/{world['t2']}" in out and world["t3"] not in out
    found = _json(cli("best", "loss", "--project", "ties", "--json"))
    assert (found["id"], found["step"], found["ties"]) == (world["t1"], 1, [f"ties/{world['t2']}"])


@pytest.mark.parametrize(("selection", "winner", "value"), [
    (["--group", "sweep-a"], "nanbest", 0.3), (["--tag", "phase-2"], "failed", 0.25),
    (["--tag", "phase-1", "--tag", "phase-2"], None, None),  # every tag must hold
    (["--status", "crashed"], "crashed", 0.45), (["--status", "failed", "-f", "config.lr>0.002"], "failed", 0.25),
    (["--since", "1h"], "failed", 0.25), (["--since", "SINCE"], "crashed", 0.45),
    (["--since", "2999-01-01"], None, None), (["--status", "running"], None, None),
])
def test_best_follows_group_tag_status_and_since(world: W, cli: Any, selection: list[str], winner: str | None,
                                                 value: float | None) -> None:
    selection = [world["SINCE"] if s == "SINCE" else s for s in selection]
    code, out, err = cli("best", "val/loss", "--project", P, "--json", *selection)
    if winner is None:
        assert (code, out, err) == (1, "", "tracker: no runs match\n")
    else:
        assert (_json((code, out, err))["id"], json.loads(out)["value"]) == (world[winner], value)


def test_best_config_differences_name_the_keys_that_differ_and_their_values(cli: Any) -> None:
    out = cli("best", "val/loss", "--project", P, "--group", "sweep-a")[1]
    differences = _section(out, "  config that differs").splitlines()
    assert [line.split() for line in differences[2:]] == [["lr", "0.0003", "0.001", "(1)"]], out
    found = _json(cli("best", "val/loss", "--project", P, "--group", "sweep-a", "--json"))
    assert found["config_differences"] == {"lr": {"best": 3e-4, "others": [[1e-3, 1]]}}
    found = _json(cli("best", "val/loss", "--project", P, "--status", "finished", "--json"))
    assert found["config_differences"] == {"batch_size": {"best": 32, "others": [[64, 1]]},
                                           "lr": {"best": 3e-4, "others": [[1e-3, 2], [1e-4, 1]]},
                                           "optimizer.name": {"best": "adam", "others": [["sgd", 1]]}}


def test_runs_lists_newest_first_and_shows_crashed_and_failed(world: W, cli: Any) -> None:
    code, out, err = cli("runs", "--project", P)
    assert code == 0 and _ids(out) == [world[n] for n in NEWEST_FIRST], err
    status = {n: line.split()[2] for n, line in zip(NEWEST_FIRST, out.splitlines()[2:], strict=True)}
    assert status == {"base": "finished", "nanbest": "finished", "allnan": "finished", "failed": "failed",
                      "crashed": "crashed", "raised": "failed", LONG: "finished"}
    listed = _json(cli("runs", "--project", P, "--json"))
    assert [(r["id"], r["name"], r["status"]) for r in listed] == [(world[n], n, status[n]) for n in NEWEST_FIRST]


@pytest.mark.parametrize(("options", "names"), [
    (["--sort=-summary.val/acc"], ["failed", "allnan", "nanbest", "crashed", "base", LONG, "raised"]),
    (["--sort", "-summary.val/acc"], ["failed", "allnan", "nanbest", "crashed", "base", LONG, "raised"]),  # as --help
    (["--sort", "config.lr", "--limit", "2"], ["allnan", "nanbest"]), (["--limit", "2"], NEWEST_FIRST[:2]),
    (["--filter", "config.lr<1e-3"], ["allnan", "nanbest"]),
    (["--filter", "summary.val/acc>=0.9", "--filter", "status=finished"], ["allnan"]),
    (["--filter", "name~^nan", "--tag", "phase-1"], ["nanbest"]),
    (["--filter", "config.optimizer.name=sgd", "--group", "sweep-b"], ["failed", "allnan"]),
])
def test_runs_sort_filter_and_limit(world: W, cli: Any, options: list[str], names: list[str]) -> None:
    code, out, err = cli("runs", "--project", P, *options)
    assert code == 0 and _ids(out) == [world[n] for n in names], err + out


def test_runs_columns_show_config_and_summary_values(world: W, cli: Any) -> None:
    code, out, err = cli("runs", "--project", P, "--columns", "config.lr,summary.val/loss")
    assert code == 0 and out.splitlines()[0].split()[-2:] == ["lr", "val/loss"], err
    shown = {n: line.split()[-2:] for n, line in zip(NEWEST_FIRST, out.splitlines()[2:], strict=True)}
    assert [shown[n] for n in ("base", "failed", "raised")] == [["0.001", "0.6"], ["0.01", "0.25"], ["0.005", "1.5"]]
    listed = _json(cli("runs", "--project", P, "--columns", "config.lr,summary.val/loss", "--json"))
    assert [(r["config.lr"], r["summary.val/loss"]) for r in listed][3] == (1e-2, 0.25)


@pytest.mark.parametrize("args", [
    ["runs"], ["runs", "-c", "config.lr,summary.val/acc"], ["runs", "-c", ",".join(
        ["config.lr", "config.optimizer.name", "config.batch_size", "summary.val/loss", "summary.val/acc"])],
    ["best", "val/loss"], ["best", "val/loss", "-p", P, "-f", "name~^sweep"], ["show", "{raised}"],
    ["show", "{" + LONG + "}"], ["diff", "{base}", "{" + LONG + "}"],
], ids=["runs", "runs-2-columns", "runs-5-columns", "best", "best-long-name", "show", "show-long-name", "diff"])
def test_every_output_line_fits_80_columns(world: W, cli: Any, args: list[str]) -> None:
    code, out, err = cli(*[a.format(**world) for a in args])
    wide = [line for line in out.splitlines() if len(line) > 80]
    assert code == 0 and not wide, f"{err}{len(wide)} lines wider than 80, e.g. {wide[:1]}"


def test_show_by_id_and_prefix_gives_status_config_and_summary(world: W, cli: Any) -> None:
    run_id = world["failed"]
    others = [p.name for p in Path(world["ROOT"]).glob("*/*") if p.name != run_id]
    prefix = next(run_id[:k] for k in range(4, 14) if not any(o.startswith(run_id[:k]) for o in others))
    code, out, err = cli("show", run_id)
    assert code == 0 and out.splitlines()[0] == f"{P}/{run_id}  failed (exit 1)  'failed'", err + out
    assert "group sweep-b, tags phase-2" in out
    assert _section(out, "config").split() == ["lr", "0.01", "optimizer.name", "sgd", "batch_size", "64"]
    assert _section(out, "summary").split() == ["val/loss", "0.25", "val/acc", "0.95"]
    assert cli("show", prefix) == cli("show", f"{P}/{run_id}") == (0, out, "")


def test_show_gives_traceback_history_tail_and_console_tail(world: W, cli: Any) -> None:
    code, out, err = cli("show", world["raised"])
    assert code == 0 and "failed (exit 1)" in out.splitlines()[0], err
    assert "RuntimeError: loss exploded" in _section(out, "traceback")
    assert "console (last lines)" not in out  # console capture was off in that child
    assert "crashed" in cli("show", world["crashed"])[1].splitlines()[0]
    tail = _section(cli("show", world["long"])[1], "history (last rows)").splitlines()
    assert [line.split()[0] for line in tail[2:]] == ["1995", "1996", "1997", "1998", "1999"]
    assert "hello from the console" in _section(cli("show", world[LONG])[1], "console (last lines)")
    shown = _json(cli("show", world["raised"], "--json"))
    assert (shown["status"], shown["exit_code"], shown["config"]) == ("failed", 1, _cfg(5e-3, "adam", 32))
    assert shown["summary"] == {"val/loss": 1.5, "val/acc": 0.1} and "RuntimeError" in shown["traceback"]
    assert _json(cli("show", world["long"], "--json"))["rows"] == 2000


def test_diff_marks_differing_keys_and_hides_equal_ones_unless_all(world: W, cli: Any) -> None:
    a, b = world["base"], world["nanbest"]
    code, out, err = cli("diff", a, b)
    assert code == 0 and "config: 1 differ" in out, err
    assert [line.split() for line in _section(out, "config").splitlines()[2:]] == [["*", "lr", "0.001", "0.0003"]]
    assert "optimizer.name" not in out and "batch_size" not in out
    config = _section(cli("diff", a, b, "--all")[1], "config").splitlines()[2:]
    assert sorted(line.split()[:2] for line in config) == [["*", "lr"], ["batch_size", "32"],
                                                            ["optimizer.name", "adam"]]
    assert _json(cli("diff", a, b, "--json"))["config"] == {"lr": [1e-3, 3e-4]}


def test_diff_does_not_mark_nan_as_differing_from_nan(world: W, cli: Any) -> None:
    out = cli("diff", world["nanbest"], world["allnan"])[1]
    assert [line.split()[:2] for line in _section(out, "summary").splitlines()[2:]] == [["*", "val/acc"]], out


def _loads(text: str, fmt: str) -> list[dict[str, Any]]:
    if fmt == "jsonl":
        return [json.loads(line) for line in text.splitlines()]
    return [{k: float(v) if v else None for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_writes_the_full_history_and_keeps_nan(world: W, cli: Any, tmp_path: Path, fmt: str) -> None:
    code, out, err = cli("export", world["long"], "--format", fmt)
    rows = _loads(out, fmt)
    assert code == 0 and [r["_step"] for r in rows] == list(range(2000)), err
    assert [r.get("acc") for r in rows[::500]] == [0, 500, 1000, 1500] and rows[1].get("acc") is None
    assert rows[1999]["loss"] == 1 / 2000 and all(isinstance(r["_timestamp"], float) for r in rows)
    assert cli("export", world["long"], "--format", fmt, "-o", str(tmp_path / "h"))[0] == 0
    assert (tmp_path / "h").read_text() == out
    nan = rows[100]["loss"]
    assert isinstance(nan, float) and math.isnan(nan), f"the NaN at step 100 was exported as {nan!r}"


def test_export_parquet_needs_pyarrow_or_writes_a_readable_file(world: W, cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "h.parquet"
    code, _, err = cli("export", world["long"], "--format", "parquet", "-o", str(path))
    if importlib.util.find_spec("pyarrow") is None:
        assert (code, err.count("\n"), path.exists()) == (2, 2, False) and "pip install pyarrow" in err
    else:
        assert code == 0 and importlib.import_module("pyarrow.parquet").read_table(path).num_rows == 2000, err


def test_tag_and_note_edits_show_in_show_and_api(capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _made([{"loss": 1.0}], project=P, tags=["b", "keep"])
    assert _call(capsys, ["tag", run_id, "+a", "-b"])[:2] == (0, f"{P}/{run_id}: tags keep, a\n")
    assert _call(capsys, ["note", run_id, "lr too high, rerun"])[:2] == (0, f"{P}/{run_id}: notes set\n")
    out = _call(capsys, ["show", run_id])[1]
    assert "tags keep, a" in out and "notes   lr too high, rerun" in out
    assert (Api().run(run_id).tags, Api().run(run_id).notes) == (["keep", "a"], "lr too high, rerun")


def test_tag_with_only_a_removal_needs_no_double_dash(capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _made([{"loss": 1.0}], project=P, tags=["phase-1", "keep"])
    code, _, err = _call(capsys, ["tag", run_id, "-phase-1"])
    assert (code, Api().run(run_id).tags) == (0, ["keep"]), err


def test_rm_refuses_without_yes_and_a_terminal_and_deletes_with_yes(capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _made([{"loss": 1.0}], project=P, name="doomed")
    refused = run_command([str(TRACKER), "rm", run_id])  # stdin is /dev/null, not a terminal
    assert refused.returncode == 2 and "--yes" in refused.stderr and "Traceback" not in refused.stderr
    assert [r.id for r in Api().runs(P)] == [run_id]
    assert _call(capsys, ["rm", run_id, "--yes"])[:2] == (0, f"deleted {P}/{run_id}\n")
    assert Api().runs(P) == [] and _call(capsys, ["show", run_id])[0] == 2


def test_plot_writes_a_png(world: W, cli: Any, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    code, out, err = cli("plot", "val/loss", "--project", P, "-o", str(tmp_path / "loss.png"))
    assert code == 0 and out == f"wrote {tmp_path / 'loss.png'} (7 runs)\n", err
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


ERRORS = {  # the arguments -> what the error must say
    "unknown-run": (["show", "nosuchrun"], "no run 'nosuchrun'"),
    "ambiguous-id": (["show", SHARED], f"dup-a/{SHARED}, dup-b/{SHARED}"),
    "unknown-project": (["runs", "--project", "visoin"], "did you mean vision?"),
    "bad-filter": (["runs", "--filter", "config.lr"], "not of the form FIELD OP VALUE"),
    "unknown-field": (["runs", "--filter", "colour=red"], "not a run field"),
    "unknown-sort": (["runs", "--sort", "colour"], "not a run field"),
    "unknown-metric": (["best", "val/los", "--project", P], "did you mean val/loss"),
    "bad-since": (["best", "val/loss", "--since", "last tuesday"], "not a date or an age"),
    "plot-unknown-metric": (["plot", "val/los", "--project", P, "-o", "never.png"], "did you mean val/loss"),
}


@pytest.mark.parametrize(("args", "expected"), ERRORS.values(), ids=ERRORS)
def test_errors_are_one_line_with_a_hint_and_exit_2(cli: Any, args: list[str], expected: str) -> None:
    if args[0] == "plot":
        pytest.importorskip("matplotlib")
    code, out, err = cli(*args)
    lines = err.splitlines()
    assert (code, out, len(lines)) == (2, "", 2), err
    assert lines[0].startswith("tracker: error: ") and lines[1].startswith("  Hint: ")
    assert expected in err and "Traceback" not in err


@pytest.mark.parametrize("command", [[sys.executable, "-m", "tracker_core.cli"], [str(TRACKER)]],
                         ids=["python-m", "console-script"])
def test_entry_points_answer_and_report_errors_in_a_real_process(world: W, command: list[str]) -> None:
    done = run_command([*command, "--dir", world["ROOT"], "best", "val/loss", "--project", P, "--json"])
    assert done.returncode == 0, done.stderr
    assert (json.loads(done.stdout)["id"], json.loads(done.stdout)["step"]) == (world["failed"], 1)
    done = run_command([*command, "--dir", world["ROOT"], "runs", "--project", P, "--json"])
    assert [r["id"] for r in json.loads(done.stdout)] == [world[n] for n in NEWEST_FIRST]
    failed = run_command([*command, "--dir", world["ROOT"], "show", SHARED])
    assert (failed.returncode, failed.stdout, len(failed.stderr.splitlines())) == (2, "", 2), failed.stderr
    assert failed.stderr.startswith("tracker: error: run id") and "Traceback" not in failed.stderr
