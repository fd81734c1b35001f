"""What of a run the server has acknowledged, kept in the run folder as ``.sync.json``.

``acked_seq`` is the server's high-water mark; ``offset`` the byte offset in ``events.jsonl``
just past the record with that seq (so a restart reads on from there); ``files`` maps run
files already mapped on the server to their sha256. The file is replaced atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["SyncState", "complete_size", "last_seq_in_log"]

STATE_FILE = ".sync.json"


@dataclass
class SyncState:
    server: str
    entity: str
    acked_seq: int = 0
    offset: int = 0
    files: dict[str, str] = field(default_factory=dict)
    files_done: bool = False

    @classmethod
    def load(cls, run_dir: str) -> SyncState | None:
        """The saved state, or None when there is none (or it is unreadable: then all starts over, by seq)."""
        try:
            with open(os.path.join(run_dir, STATE_FILE), "rb") as handle:
                data = orjson.loads(handle.read())
            return cls(server=str(data["server"]), entity=str(data["entity"]), acked_seq=int(data["acked_seq"]),
                       offset=int(data["offset"]), files={str(k): str(v) for k, v in data["files"].items()},
                       files_done=bool(data.get("files_done")))
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            return None

    def save(self, run_dir: str) -> None:
        """Replace the state file atomically; raises OSError."""
        path = os.path.join(run_dir, STATE_FILE)
        temporary = f"{path}.{os.getpid()}.tmp"
        data: dict[str, Any] = {"server": self.server, "entity": self.entity, "acked_seq": self.acked_seq,
                                "offset": self.offset, "files": self.files, "files_done": self.files_done}
        with open(temporary, "wb") as handle:
            handle.write(orjson.dumps(data, option=orjson.OPT_APPEND_NEWLINE))
        os.replace(temporary, path)


def complete_size(log_path: str) -> int:
    """Bytes of the log up to its last complete line (a torn tail is not counted); 0 if unreadable."""
    try:
        with open(log_path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            start = size
            while start > 0:
                start = max(0, start - (1 << 16))
                handle.seek(start)
                chunk = handle.read(size - start)
                cut = chunk.rfind(b"\n")
                if cut >= 0:
                    return start + cut + 1
            return 0
    except OSError:
        return 0


def last_seq_in_log(log_path: str) -> int:
    """The seq of the log's last complete record; 0 if there is none."""
    end = complete_size(log_path)
    if end == 0:
        return 0
    try:
        with open(log_path, "rb") as handle:
            start = max(0, end - (1 << 20))
            handle.seek(start)
            lines = handle.read(end - start).split(b"\n")
    except OSError:
        return 0
    for line in reversed(lines[1:] if start else lines):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("seq"), int):
            return int(record["seq"])
    return 0
