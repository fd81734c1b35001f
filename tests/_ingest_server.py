"""A small, honest implementation of the team server's ingest routes (wire API v1), for client tests.

Run as a process: ``python tests/_ingest_server.py DATA_DIR PORT KEY [--team research]
[--throttle N] [--limit-bytes B]``. It prints ``ready`` once it listens on 127.0.0.1:PORT.
Records are stored by seq in ``DATA_DIR/<team>/<project>/<run>/records.jsonl`` (fsynced before
the answer, so a SIGKILL loses nothing acknowledged); a resent record is ignored, a gap is
refused with 409, nothing is stored half. Blobs are content-addressed and verified.
``--throttle N`` answers the first N record batches with 429 and ``Retry-After: 0.2``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

_lock = threading.Lock()
_SHA = re.compile(r"^[0-9a-f]{64}$")


class Store:
    def __init__(self, root: str, team: str, limit: int) -> None:
        self.root, self.team, self.limit = root, team, limit
        self.throttle = 0
        self.batches = 0

    def run_dir(self, team: str, project: str, run: str) -> str:
        return os.path.join(self.root, team, project, run)

    def records(self, path: str) -> list[dict[str, Any]]:
        try:
            with open(os.path.join(path, "records.jsonl"), "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in data.split(b"\n")[:-1] if line]  # a torn last line is not stored

    def acked(self, path: str) -> int:
        records = self.records(path)
        return records[-1]["seq"] if records else 0


class Handler(BaseHTTPRequestHandler):
    store: Store
    key: str

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, **extra: Any) -> None:
        self._send(status, {"error": code, "detail": code.replace("_", " "), **extra})

    def _body(self) -> bytes:
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        return data

    def _route(self, method: str) -> None:
        if self.path == "/healthz":
            return self._send(200, {"ok": True})
        if self.headers.get("Authorization") != f"Bearer {self.key}":
            return self._error(401, "unauthorized")
        parts = [unquote(p) for p in urlsplit(self.path).path.split("/")[3:]]
        store = self.store
        if parts == ["whoami"]:
            teams = [{"name": store.team, "role": "member"}]
            return self._send(200, {"user": "ada", "key_name": "test", "teams": teams})
        if parts[0] in ("runs", "blobs") and parts[1] != store.team:
            return self._error(404, "not_found")
        if parts[0] == "runs" and len(parts) >= 4:
            path = store.run_dir(*parts[1:4])
            rest = parts[4:]
            with _lock:
                if method == "PUT" and not rest:
                    meta = json.loads(self._body())["meta"]
                    os.makedirs(path, exist_ok=True)
                    with open(os.path.join(path, "meta.json"), "w") as handle:
                        json.dump(meta, handle)
                    return self._send(200, {"acked_seq": store.acked(path)})
                if not os.path.isdir(path):
                    return self._error(404, "not_found")
                if method == "GET" and rest == ["acked"]:
                    return self._send(200, {"acked_seq": store.acked(path)})
                if method == "POST" and rest == ["records"]:
                    return self._records(path)
                if method == "PUT" and rest == ["files"]:
                    return self._files(path)
        if parts[0] == "blobs" and len(parts) == 3:
            folder = os.path.join(store.root, "_blobs", parts[1])
            if method == "POST" and parts[2] == "missing":
                digests = json.loads(self._body())["digests"]
                return self._send(200, {"missing": [d for d in digests if not os.path.exists(os.path.join(folder, d))]})
            if method == "PUT" and _SHA.match(parts[2]):
                data = self._body()
                if hashlib.sha256(data).hexdigest() != parts[2]:
                    return self._error(400, "digest_mismatch")
                os.makedirs(folder, exist_ok=True)
                with open(os.path.join(folder, parts[2]), "wb") as handle:
                    handle.write(data)
                with open(os.path.join(store.root, "_blob_puts.log"), "a") as handle:
                    handle.write(parts[2] + "\n")
                return self._send(201, {"sha256": parts[2]})
        return self._error(404, "not_found")

    def _records(self, path: str) -> None:
        store = self.store
        if int(self.headers.get("Content-Length") or 0) > store.limit:
            return self._error(413, "too_large", limit_bytes=store.limit)
        if store.throttle > 0:
            store.throttle -= 1
            return self._send(429, {"error": "throttled", "detail": "slow down"}, {"Retry-After": "0.2"})
        try:
            records = [json.loads(line) for line in self._body().split(b"\n") if line.strip()]
            if not all(isinstance(r, dict) and isinstance(r.get("seq"), int) for r in records):
                raise ValueError
        except ValueError:
            return self._error(400, "malformed")
        acked = store.acked(path)
        fresh = [r for r in records if r["seq"] > acked]
        if any(r["seq"] != acked + 1 + i for i, r in enumerate(fresh)):
            return self._error(409, "seq_gap", acked_seq=acked)
        if fresh:
            with open(os.path.join(path, "records.jsonl"), "ab") as handle:
                handle.write(b"".join(json.dumps(r).encode() + b"\n" for r in fresh))
                handle.flush()
                os.fsync(handle.fileno())
        store.batches += 1
        self._send(200, {"acked_seq": fresh[-1]["seq"] if fresh else acked})

    def _files(self, path: str) -> None:
        files = json.loads(self._body())["files"]
        if any(p.startswith("/") or "\\" in p or ".." in p.split("/") for p in files):
            return self._error(400, "bad_path")
        folder = os.path.join(self.store.root, "_blobs", self.store.team)
        missing = [e["sha256"] for e in files.values() if not os.path.exists(os.path.join(folder, e["sha256"]))]
        if missing:
            return self._error(409, "missing_blobs", missing=missing)
        mapped_path = os.path.join(path, "files.json")
        mapped = {}
        if os.path.exists(mapped_path):
            with open(mapped_path) as handle:
                mapped = json.load(handle)
        mapped.update(files)
        with open(mapped_path, "w") as handle:
            json.dump(mapped, handle)
        self._send(200, {"files": mapped})

    def do_GET(self) -> None:
        self._route("GET")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_POST(self) -> None:
        self._route("POST")


def serve(root: str, port: int, key: str, team: str = "research", throttle: int = 0,
          limit: int = 8 << 20) -> ThreadingHTTPServer:
    store = Store(root, team, limit)
    store.throttle = throttle
    handler = type("BoundHandler", (Handler,), {"store": store, "key": key})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    return server


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("port", type=int)
    parser.add_argument("key")
    parser.add_argument("--team", default="research")
    parser.add_argument("--throttle", type=int, default=0)
    parser.add_argument("--limit-bytes", type=int, default=8 << 20)
    args = parser.parse_args()
    httpd = serve(args.root, args.port, args.key, args.team, args.throttle, args.limit_bytes)
    print("ready", flush=True)
    httpd.serve_forever()
