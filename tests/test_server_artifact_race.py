"""Two writers registering the first versions of a new artifact name at the same moment, on a real server
(SQLite, then PostgreSQL): each gets its version, none a server error."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import pytest
from _server import Server, make_run, new_key, post_run

from tracker_core.artifacts._manifest import manifest_digest

pytestmark = pytest.mark.slow


def test_concurrent_first_registrations_of_a_name_each_get_a_version(server: Server) -> None:
    key = new_key(server.data, "research", "box", db=server.db)
    post_run(server.client(key), "research", make_run(steps=1))
    bodies = []
    with server.client(key) as client:
        for content in (b"one", b"two"):
            sha = hashlib.sha256(content).hexdigest()
            assert client.put(f"/api/v1/blobs/research/{sha}", content=content).status_code == 201
            files = [{"path": "w.bin", "sha256": sha, "size": len(content)}]
            bodies.append({"type": "model", "digest": manifest_digest(files), "files": files, "aliases": ["best"]})
    for attempt in range(15):
        url = f"/api/v1/artifact-collections/research/p/ckpt{attempt}"
        barrier = threading.Barrier(2)
        answers: list[Any] = [None, None]

        def register(index: int, url: str = url, barrier: threading.Barrier = barrier,
                     answers: list[Any] = answers) -> None:
            with server.client(key) as client:
                barrier.wait()
                answers[index] = client.post(url, json=bodies[index])

        threads = [threading.Thread(target=register, args=(index,)) for index in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert [answer.status_code for answer in answers] == [200, 200], [a.text for a in answers]
        assert sorted(answer.json()["version"] for answer in answers) == [0, 1]
