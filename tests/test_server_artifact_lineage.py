"""The server's lineage walk on a real (SQLite) database: a graph whose paths rejoin is walked once per
node, not once per path (a chain of runs each using two versions of the run before it has 2^10 paths)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

from tracker_server._artifacts import lineage
from tracker_server._models import ArtifactCollection, ArtifactUsage, ArtifactVersionRow, Base, Project, Run, Team

LEVELS = 10


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as opened:
        yield opened
    engine.dispose()


def _chain(session: Session) -> ArtifactVersionRow:
    """Runs r0..r10; run i (i >= 1) produces versions a:v(i-1) and b:v(i-1), and uses both versions of run
    i + 1. Returns a:v0, the version of r1 that r0 used."""
    session.add(Team(id=1, name="t", created_at=0.0))
    session.add(Project(id=1, team_id=1, name="p", created_at=0.0, last_activity=0.0))
    runs = [Run(project_id=1, run_id=f"r{i}", state="finished", created_at=0.0, updated_at=0.0)
            for i in range(LEVELS + 1)]
    session.add_all(runs)
    collections = [ArtifactCollection(project_id=1, name=name, type="model", created_at=0.0) for name in "ab"]
    session.add_all(collections)
    session.flush()
    produced: list[list[ArtifactVersionRow]] = []
    for level in range(1, LEVELS + 1):
        pair = [ArtifactVersionRow(collection_id=c.id, version=level - 1, digest=f"{level:064x}", manifest="[]",
                                   size=0, file_count=0, created_by=runs[level].id, created_at=0.0)
                for c in collections]
        session.add_all(pair)
        produced.append(pair)
    session.flush()
    for level, pair in enumerate(produced):  # run `level` uses what run `level + 1` produced
        session.add_all(ArtifactUsage(version_pk=v.id, run_pk=runs[level].id, used_at=0.0) for v in pair)
    session.flush()
    return produced[0][0]


def test_rejoining_paths_are_walked_once_and_the_whole_graph_comes_back(session: Session) -> None:
    root = _chain(session)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(session.get_bind(), "before_cursor_execute", count)
    graph = lineage(session, root, "t", 20)
    event.remove(session.get_bind(), "before_cursor_execute", count)

    nodes = {node["id"]: node for node in graph["nodes"]}
    label = {key: node.get("ref") or node["run_id"] for key, node in nodes.items()}
    edges = {(label[edge["from"]], label[edge["to"]]) for edge in graph["edges"]}
    assert ("a:v0", "r0") in edges and ("r1", "a:v0") in edges  # the root's consumer and producer
    assert ("r10", "b:v9") in edges and ("b:v9", "r9") in edges  # 20 hops up from the root reach r10
    assert len(edges) == 2 + 4 * (LEVELS - 1) and "b:v0" not in label.values()  # b:v0 is no ancestor
    assert len([n for n in nodes.values() if n["kind"] == "run"]) == LEVELS + 1
    # one walk per node and way: about 3 statements a node (2^10 paths would take thousands)
    assert len(statements) < 200, len(statements)
