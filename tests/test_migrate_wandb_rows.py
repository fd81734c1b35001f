"""Reading W&B history records of plain numbers from their bytes: every record of real runs, as the wandb
package's own protobuf classes read it, or left to them (None); a record whose lengths disagree is left."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("wandb")

from _wandb_runs import LONG_RUN, MAIN_RUN, make_runs, wandb_files

from tracker_core.migrate import Fidelity, read_wandb_records
from tracker_core.migrate._wandb_rows import RowReader, is_number_text


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wandb_rows")
    make_runs(folder, MAIN_RUN, LONG_RUN)
    return folder / "wandb"


def _history(path: Path) -> list[tuple[bytes, Any]]:
    """(bytes, HistoryRecord as wandb's protobuf classes read it) of every history record."""
    from wandb.proto import wandb_internal_pb2 as pb

    found = []
    for payload in read_wandb_records(str(path), Fidelity("W&B", "test")):
        record = pb.Record()
        record.ParseFromString(payload)
        if record.WhichOneof("record_type") == "history":
            found.append((payload, record.history))
    return found


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(
        (math.isnan(a[k]) and math.isnan(b[k])) if isinstance(a[k], float) and math.isnan(a[k])
        else a[k] == b[k] and type(a[k]) is type(b[k]) for k in a)


def test_every_record_is_read_as_protobuf_reads_it_or_left_to_it(made: Path) -> None:
    for run_id, readable in (("long0001", 3000), ("main0001", 4)):  # main: 14 rows; 8 hold NaN or ±Inf, 2 media
        (path,) = wandb_files(made, run_id)
        reader = RowReader()
        read = 0
        for payload, history in _history(path):
            texts = [item.value_json for item in history.item]
            keys = [item.nested_key[0] for item in history.item]
            expected = {k: json.loads(v) for k, v in zip(keys, texts, strict=True)}
            got = reader.read(payload)
            if got is not None:
                assert _same(got, expected), (got, expected)
                read += 1
            elif all(len(item.nested_key) == 1 for item in history.item) and all(map(is_number_text, texts)):
                reader.learn(keys, nested=True)  # as the importer does after reading the record itself
                assert _same(reader.read(payload) or {}, expected)  # its keys now known: read from bytes
                read += 1
            else:
                assert any(not is_number_text(t) for t in texts)  # NaN, ±Inf, media: left to protobuf
        assert read == readable, (run_id, read)


def test_a_record_whose_lengths_disagree_is_left_to_protobuf(made: Path) -> None:
    (path,) = wandb_files(made, "long0001")
    reader = RowReader()
    payload, history = _history(path)[10]
    reader.learn([item.nested_key[0] for item in history.item], nested=True)
    assert reader.read(payload) is not None
    after_num = 1
    while payload[after_num] & 0x80:
        after_num += 1
    after_num += 1  # the history's tag, then its length
    first_item = after_num + 1 + (2 if payload[after_num + 1] & 0x80 else 1)
    assert payload[first_item] == 0x0A
    for where in (payload.index(b"\x82\x01") + 2, first_item + 1, after_num + 1):  # a value's, an item's and
        damaged = bytearray(payload)                                                   # the history's length
        damaged[where] -= 1
        assert reader.read(bytes(damaged)) is None, where
