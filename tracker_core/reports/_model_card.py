"""``tracker report model-card NAME:vN``: a report drafted from an artifact's lineage: the run that made it, its
config, its evaluation metrics (the numeric summary), the data artifacts upstream, a live table and lineage
panel, and empty "Intended use" and "Limitations" sections to fill in."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

from tracker_core.reports._blocks import Lineage, Markdown, RunSet, RunsTable
from tracker_core.reports._report import Report

__all__ = ["CardFacts", "draft_model_card", "local_facts", "server_facts"]


@dataclass
class CardFacts:
    """What a model card says: the artifact, its producer run (id, name, state, config, summary) and the
    artifacts that run used (each ``{"ref", "type", "digest"}``)."""

    ref: str
    type: str
    digest: str
    project: str
    description: str | None = None
    aliases: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] | None = None
    upstream: list[dict[str, Any]] = field(default_factory=list)


def _flat(tree: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key in sorted(tree):
        value = tree[key]
        if isinstance(value, dict) and value:
            rows.extend(_flat(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(rows: list[tuple[str, Any]], head: tuple[str, str]) -> str:
    lines = [f"| {head[0]} | {head[1]} |", "| --- | --- |"]
    lines += [f"| `{_cell(key)}` | {_cell(value)} |" for key, value in rows]
    return "\n".join(lines) + "\n"


def _metrics(summary: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(key, value) for key, value in _flat(summary) if not key.startswith("_")
            and type(value) in (int, float) and math.isfinite(value)]


def draft_model_card(facts: CardFacts, **where: Any) -> Report:
    """The model card as an unsaved ``Report`` in ``facts.project`` (``where``: ``dir``/``server``/``api_key``)."""
    head = [f"# Model card: {facts.ref}\n\n"]
    if facts.description:
        head.append(f"{facts.description}\n\n")
    head.append(f"- Type: {facts.type}\n- Digest: `{facts.digest}`\n")
    if facts.aliases:
        head.append(f"- Aliases: {', '.join(facts.aliases)}\n")
    if facts.metadata:
        head.append("\n" + _table(_flat(facts.metadata), ("metadata", "value")))
    blocks: list[Any] = [Markdown("".join(head) + "\n")]
    run = facts.run
    if run is None:
        blocks.append(Markdown("## Training run\n\nNo run is recorded as having made this artifact.\n\n"))
    else:
        config, metrics = _flat(run.get("config") or {}), _metrics(run.get("summary") or {})
        blocks.append(Markdown(
            f"## Training run\n\nMade by run `{run['id']}` ({_cell(run.get('name') or run['id'])}), "
            f"{run.get('state', 'unknown')}, in project {facts.project}.\n\n"
            "## Configuration\n\n" + (_table(config, ("key", "value")) if config else "No config was logged.\n")
            + "\n## Evaluation metrics\n\n"
            + (_table(metrics, ("metric", "value")) if metrics else "No numeric summary metric was logged.\n")
            + "\nThe same metrics, live:\n\n"))
        blocks.append(RunsTable(title="Evaluation metrics", runs=RunSet(ids=[str(run["id"])]),
                                columns=[f"summary.{key}" for key, _ in metrics] or ["summary._step"]))
    data = "".join(f"- `{u['ref']}` ({u['type']}, digest `{str(u['digest'])[:12]}`)\n" for u in facts.upstream)
    blocks.append(Markdown("\n## Training data\n\n" + (data or "No upstream artifact is recorded.\n") + "\n"))
    blocks.append(Lineage(title=f"Lineage of {facts.ref}", key=facts.ref))
    blocks.append(Markdown("\n## Intended use\n\n\n\n## Limitations\n\n\n"))
    return Report(facts.project, f"Model card: {facts.ref}", blocks, **where)


def local_facts(root: str | os.PathLike[str] | None, ref: str, project: str | None) -> CardFacts:
    """The facts from the local store.

    Raises:
        ArtifactError: no such artifact version.
    """
    from tracker_core.api import Api

    artifact = Api(root).artifact(ref)
    producer = artifact.logged_by()
    run = None if producer is None else {"id": producer.id, "name": producer.name, "state": producer.status,
                                          "config": dict(producer.config), "summary": dict(producer.summary)}
    upstream = [] if producer is None else [{"ref": used.ref, "type": used.type, "digest": used.digest}
                                            for used in producer.used_artifacts()]
    return CardFacts(artifact.ref, artifact.type, artifact.digest,
                     project or (producer.project if producer is not None else "uncategorized"),
                     artifact.description, list(artifact.aliases), dict(artifact.metadata or {}), run, upstream)


def server_facts(client: Any, entity: str, project: str, ref: str) -> CardFacts:
    """The facts from the team server (the version, its lineage one hop up, and its producer run); no file of
    the artifact is downloaded.

    Raises:
        ArtifactError: no such artifact version; ServerError: the server refused or could not be reached.
    """
    from tracker_core._encoding import decode_tree
    from tracker_core.sync._artifact_pull import resolve_remote
    from tracker_core.sync._client import segment

    version = resolve_remote(client, entity, project, ref)
    exact = f"{version['name']}:v{version['version']}"
    graph = client.call("GET", f"/api/v1/artifact-collections/{segment(entity)}/{segment(project)}/"
                        f"{segment(version['name'])}/v{version['version']}/lineage", "reading the lineage",
                        params={"depth": 2})
    producer = version.get("created_by")
    run = None
    upstream = []
    if producer is not None:
        data = client.call("GET", client.run_path(entity, producer["project"], producer["id"]), "reading the run")
        run = {"id": data["id"], "name": data.get("name"), "state": data.get("state"),
               "config": decode_tree(data.get("config") or {}), "summary": decode_tree(data.get("summary") or {})}
        nodes = {node["id"]: node for node in graph.get("nodes", [])}
        producer_node = next((key for key, node in nodes.items() if node.get("kind") == "run"
                              and node.get("run_id") == producer["id"]), None)
        upstream = [{"ref": nodes[edge["from"]]["ref"], "type": nodes[edge["from"]]["type"],
                     "digest": nodes[edge["from"]]["digest"]} for edge in graph.get("edges", [])
                    if edge["to"] == producer_node and nodes.get(edge["from"], {}).get("kind") == "artifact"]
    return CardFacts(exact, str(version["type"]), str(version["digest"]), f"{entity}/{project}",
                     version.get("description"), [a for a in version.get("aliases", []) if a != "latest"],
                     dict(version.get("metadata") or {}), run, upstream)
