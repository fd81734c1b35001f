"""``tracker import mlflow`` of 1,000 small MLflow runs in a SQLite store, beside MLflow reading the same data.

The store is made once: ``--runs`` runs (default 1,000), each with 8 params, 4 tags and 3 metrics of 10 steps
(30 points), finished. Then, ``--repeat`` times each (medians reported):

- ``mlflow read``: ``MlflowClient`` reading everything the import reads: every page of ``search_runs``,
  ``get_metric_history`` of every metric of every run, ``list_artifacts`` of every run: the floor;
- ``import``: ``import_mlflow`` into an empty local store (the same reads, plus writing every run);
- ``import again``: the same into the store it filled (nothing changed: every run is skipped after
  comparing its fingerprint).

Budget (issue 19): the first import of 1,000 small runs <= 60 s on this machine.

Run:  python benchmarks/bench_import_mlflow.py [--runs 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from _common import median, table, use_offline_env, verdict

BUDGET_S = 60.0


def make_store(uri: str, runs: int) -> None:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("bench")
    t0 = 1_780_000_000_000
    for n in range(runs):
        run = client.create_run(experiment_id, start_time=t0 + n * 1000, run_name=f"run-{n}")
        params = [Param(f"p{i}", str(i * 0.1 + n)) for i in range(6)] + [Param("optimizer.name", "adam"),
                                                                         Param("optimizer.lr", "0.0003")]
        tags = [RunTag("team", "vision"), RunTag("phase", str(n % 3)), RunTag("mlflow.user", "ada"),
                RunTag("mlflow.source.name", "train.py")]
        metrics = [Metric(key, 1.0 / (step + 1 + n), t0 + n * 1000 + step, step)
                   for key in ("loss", "acc", "lr") for step in range(10)]
        client.log_batch(run.info.run_id, metrics=metrics, params=params, tags=tags)
        client.set_terminated(run.info.run_id, "FINISHED", end_time=t0 + n * 1000 + 500)


def mlflow_read(uri: str) -> int:
    """Read everything with MlflowClient; returns the number of points read."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("bench")
    assert experiment is not None
    points, token = 0, None
    for _ in range(10_000):
        page = client.search_runs([experiment.experiment_id], max_results=1000, page_token=token)
        for run in page:
            for key in run.data.metrics:
                points += len(client.get_metric_history(run.info.run_id, key))
            client.list_artifacts(run.info.run_id)
        token = page.token
        if not token:
            break
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-import-mlflow-")
    try:
        use_offline_env(tmp)
        os.chdir(tmp)
        from tracker_core.migrate import import_mlflow

        uri = f"sqlite:///{os.path.join(tmp, 'bench.db')}"
        started = time.perf_counter()
        make_store(uri, args.runs)
        print(f"made {args.runs} runs in {time.perf_counter() - started:.1f} s")
        reads, imports, agains, points = [], [], [], 0
        for attempt in range(args.repeat):
            t = time.perf_counter()
            points = mlflow_read(uri)
            reads.append(time.perf_counter() - t)
            root = os.path.join(tmp, f"runs-{attempt}")
            t = time.perf_counter()
            fidelity = import_mlflow(uri, "bench", root, progress=False)
            imports.append(time.perf_counter() - t)
            assert not fidelity.errors and fidelity.moved["runs"] == args.runs, fidelity.render()
            assert fidelity.moved["points"] == points
            t = time.perf_counter()
            again = import_mlflow(uri, "bench", root, progress=False)
            agains.append(time.perf_counter() - t)
            assert again.moved["runs unchanged"] == args.runs
        floor = median(reads)
        rows = [["mlflow read (MlflowClient, the floor)", f"{floor:.2f}", "1.00", ""],
                ["import into an empty store", f"{median(imports):.2f}", f"{median(imports) / floor:.2f}",
                 f"<= {BUDGET_S:.0f} s {verdict(median(imports) <= BUDGET_S)}"],
                ["import again (nothing changed)", f"{median(agains):.2f}", f"{median(agains) / floor:.2f}", ""]]
        print(f"{args.runs} runs, {points:,} points, median of {args.repeat}")
        print(table(["step", "seconds", "x mlflow read", "budget"], rows))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
