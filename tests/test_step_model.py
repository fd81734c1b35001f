"""Property test: any sequence of log() calls reads back as a simple model of the step rules predicts."""

from __future__ import annotations

import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracker_core

calls = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.integers(min_value=0, max_value=1000),
        st.one_of(st.none(), st.integers(min_value=0, max_value=12)),  # step
        st.sampled_from([None, True, False]),  # commit
    ),
    min_size=1,
    max_size=25,
)


def model(sequence: list[tuple[str, int, int | None, bool | None]]) -> tuple[list[dict], int]:
    """W&B-style step rules, written as plainly as possible."""
    rows: dict[int, dict] = {}
    current, aside = 0, 0
    for key, value, step, commit in sequence:
        if step is None:
            target = current
            if commit is not False:
                current += 1
        elif step >= current:
            target = step
            current = step + 1 if commit else step
        else:
            aside += 1
            continue
        rows.setdefault(target, {"_step": target})[key] = value
    return [rows[s] for s in sorted(rows)], aside


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls)
def test_history_matches_the_model(sequence: list[tuple[str, int, int | None, bool | None]]) -> None:
    run = tracker_core.init(project="model")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tracker_core.TrackerWarning)
        for key, value, step, commit in sequence:
            run.log({key: value}, step=step, commit=commit)
    run.finish()
    stored = tracker_core.Api().run(run.path)
    expected_rows, expected_aside = model(sequence)
    got = [{k: v for k, v in row.items() if k != "_timestamp"} for row in stored.history()]
    assert got == expected_rows
    assert stored.summary.get("_tracker/out_of_order_records", 0) == expected_aside
    assert stored.seq_gaps == 0
