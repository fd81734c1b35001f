"""The database schema (SQLAlchemy 2), designed for the questions the API answers.

- identity: ``teams``, ``users``, ``memberships`` (a role per user and team), ``api_keys``
  (a keyed hash only; a browser session table can later point at the same users);
- runs: ``projects``, ``runs`` (metadata, config, summary, state, acknowledged seq, and the
  folded replay state so a batch costs only its own records);
- ``records``: every raw record, keyed by (run, seq), so every derived table can be rebuilt;
- ``series_chunks``: each (run, key) history as packed arrays of steps, times and values;
- ``summary_values``, ``config_values``: one indexed row per (run, key) for filters and sorting;
- ``metric_best``: each run's best (min and max) of each metric, indexed for "best of 10,000 runs";
- ``blobs`` (per team, by sha256), ``run_files`` (a run's paths mapped to blobs);
- artifacts: ``artifact_collections`` (a name and type per project), ``artifact_versions`` (vN, manifest
  digest and manifest, producer run), ``artifact_aliases`` (alias -> version, so unique by construction)
  and ``artifact_usage`` (run used version), which together are the lineage graph;
- sweeps: ``sweeps`` (a W&B sweep config, its state and seed, per project) and ``sweep_trials`` (one row per
  trial handed out: its number, run id, parameters, grid point, state and value);
- reports: ``reports`` (a team's report of a project, its title and current revision), ``report_revisions``
  (every save's full Markdown, author and time; refused stale saves as conflict revisions), ``report_comments``
  and ``report_shares`` (read-only links, by the sha256 of their token).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["ApiKey", "ArtifactAlias", "ArtifactCollection", "ArtifactUsage", "ArtifactVersionRow", "Base", "Blob",
           "ConfigValue", "Membership", "MetricBest", "Project", "Record", "RecordPack", "ReportComment",
           "ReportRevision", "ReportRow", "ReportShare", "Run",
           "RunFile", "SeriesChunk", "ServerSecret", "SummaryValue", "Sweep", "SweepTrial", "Team", "User"]

_NAMING = {"ix": "ix_%(table_name)s_%(column_0_N_name)s", "uq": "uq_%(table_name)s_%(column_0_N_name)s",
           "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "pk_%(table_name)s"}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class ServerSecret(Base):
    """Secrets every worker reads from the database (the API-key HMAC secret)."""

    __tablename__ = "server_secrets"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[float] = mapped_column(Float)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[float] = mapped_column(Float)


class Membership(Base):
    __tablename__ = "memberships"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # viewer, member, admin


class ApiKey(Base):
    """A credential of a user; the key itself is never stored, only HMAC-SHA256(server secret, key)."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to recognise a key in a listing
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (Index("uq_projects_team_name", "team_id", "name", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float)
    last_activity: Mapped[float] = mapped_column(Float)


class Run(Base):
    """One run. JSON columns hold values encoded like the log (NaN as ``{"$f": "nan"}``)."""

    __tablename__ = "runs"
    __table_args__ = (Index("uq_runs_project_run", "project_id", "run_id", unique=True),
                      Index("ix_runs_project_updated", "project_id", "updated_at"),
                      Index("ix_runs_project_created", "project_id", "created_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    run_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(Text, nullable=True)
    state: Mapped[str] = mapped_column(String(16))  # running or the final state from the run's own records
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    signal: Mapped[str | None] = mapped_column(String(32), nullable=True)
    traceback: Mapped[str | None] = mapped_column(Text, nullable=True)
    preempted: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    group_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    job_type: Mapped[str | None] = mapped_column(Text, nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    host: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)  # server time of the last change (drives live events)
    heartbeat_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # the writer's last record time
    heartbeat_interval: Mapped[float] = mapped_column(Float, default=30.0)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)  # acknowledged: every seq up to it is stored
    meta: Mapped[str] = mapped_column(Text, default="{}")  # JSON: run.json as sent, then the records' meta
    edits: Mapped[str] = mapped_column(Text, default="{}")  # JSON: fields edited through the API
    config: Mapped[str] = mapped_column(Text, default="{}")
    summary: Mapped[str] = mapped_column(Text, default="{}")
    fold: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)  # replay state at last_seq
    fold_version: Mapped[int] = mapped_column(Integer, default=0)


class Record(Base):
    """A raw record as the client wrote it (the line's bytes), keyed by (run, seq)."""

    __tablename__ = "records"
    # A run's few records that are not rows (provenance, alerts, status...), found without reading its rows;
    # rows are most records, so the index leaves them out and ingest pays nothing for it.
    __table_args__ = (Index("ix_records_run_type_seq", "run_pk", "type", "seq",
                            sqlite_where=text("type != 'log'"), postgresql_where=text("type != 'log'")),)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(32))
    body: Mapped[bytes] = mapped_column(LargeBinary)


class RecordPack(Base):
    """A stretch of a run's consecutive ``log`` records, ``first_seq`` to ``last_seq``: their lines as the client
    wrote them, joined by newlines. Rows are most records, and one database row each was more than half of
    PostgreSQL's own work in an ingest (``_raw_records``)."""

    __tablename__ = "record_packs"
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    first_seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)


class SeriesChunk(Base):
    """Up to ``CHUNK_POINTS`` points of one (run, key) series: little-endian int64 steps, float64 times and
    float64 values; ``extra`` (JSON) holds the values that are not plain numbers, by position; ``blocks``
    their min/max summaries (``_series_blocks``)."""

    __tablename__ = "series_chunks"
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    chunk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer)
    first_step: Mapped[int] = mapped_column(BigInteger)
    last_step: Mapped[int] = mapped_column(BigInteger)
    steps: Mapped[bytes] = mapped_column(LargeBinary)
    times: Mapped[bytes] = mapped_column(LargeBinary)
    values: Mapped[bytes] = mapped_column(LargeBinary)
    all_int: Mapped[bool] = mapped_column(Boolean)  # every number in the chunk was an integer
    extra: Mapped[str | None] = mapped_column(Text, nullable=True)  # {"<index>": encoded value}
    blocks: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # _series_blocks.BLOCK records


class SummaryValue(Base):
    """One flattened summary value per (run, key): ``num`` for numbers and booleans (NULL for NaN), ``text``
    for strings; ``kind`` 0 number, 1 boolean, 2 text, 3 other."""

    __tablename__ = "summary_values"
    __table_args__ = (Index("ix_summary_values_lookup", "project_id", "key", "num"),)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[int] = mapped_column(SmallInteger)
    num: Mapped[float | None] = mapped_column(Float, nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)


class ConfigValue(Base):
    """One flattened config value per (run, dotted key), like ``SummaryValue``."""

    __tablename__ = "config_values"
    __table_args__ = (Index("ix_config_values_lookup", "project_id", "key", "num"),)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[int] = mapped_column(SmallInteger)
    num: Mapped[float | None] = mapped_column(Float, nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)


class MetricBest(Base):
    """A run's best value of a metric over its whole history (else its numeric summary), as ``find_best`` sees it."""

    __tablename__ = "metric_best"
    __table_args__ = (Index("ix_metric_best_min", "project_id", "key", "min_value"),
                      Index("ix_metric_best_max", "project_id", "key", "max_value"))
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer)
    min_value: Mapped[float] = mapped_column(Float)
    min_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    max_value: Mapped[float] = mapped_column(Float)
    max_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Blob(Base):
    """A team holds a blob once its bytes were uploaded and verified (stored once per digest)."""

    __tablename__ = "blobs"
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[float] = mapped_column(Float)


class RunFile(Base):
    __tablename__ = "run_files"
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)


class ArtifactCollection(Base):
    """An artifact name in a project, with its type."""

    __tablename__ = "artifact_collections"
    __table_args__ = (Index("uq_artifact_collections_project_name", "project_id", "name", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float)


class ArtifactVersionRow(Base):
    """Version ``vN`` of a collection: its manifest (JSON ``[{"path", "sha256", "size"}]``, every blob held by the
    team) and the digest of that manifest, as the client's store computes it."""

    __tablename__ = "artifact_versions"
    __table_args__ = (Index("uq_artifact_versions_collection_version", "collection_id", "version", unique=True),
                      Index("ix_artifact_versions_collection_digest", "collection_id", "digest"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("artifact_collections.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    file_count: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    meta: Mapped[str] = mapped_column(Text, default="{}")  # the version's metadata, JSON
    created_by: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), nullable=True,
                                                   index=True)
    created_at: Mapped[float] = mapped_column(Float)


class ArtifactAlias(Base):
    __tablename__ = "artifact_aliases"
    collection_id: Mapped[int] = mapped_column(ForeignKey("artifact_collections.id", ondelete="CASCADE"),
                                               primary_key=True)
    alias: Mapped[str] = mapped_column(String(128), primary_key=True)
    version_pk: Mapped[int] = mapped_column(ForeignKey("artifact_versions.id", ondelete="CASCADE"), index=True)


class ArtifactUsage(Base):
    """A run used a version (lineage: producer run -> version -> consumer runs)."""

    __tablename__ = "artifact_usage"
    version_pk: Mapped[int] = mapped_column(ForeignKey("artifact_versions.id", ondelete="CASCADE"), primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True, index=True)
    used_at: Mapped[float] = mapped_column(Float)


class Sweep(Base):
    """A sweep of a project: its W&B config (JSON), state (running, paused, finished, cancelled) and seed."""

    __tablename__ = "sweeps"
    __table_args__ = (Index("uq_sweeps_project_sweep", "project_id", "sweep_id", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    sweep_id: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(Text, nullable=True)
    method: Mapped[str] = mapped_column(String(16))
    config: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    seed: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[float] = mapped_column(Float)


class SweepTrial(Base):
    """A trial handed out by the sweep's claim route; a grid point belongs to one trial that did not crash."""

    __tablename__ = "sweep_trials"
    __table_args__ = (Index("uq_sweep_trials_grid", "sweep_pk", "grid_index", unique=True,
                            sqlite_where=text("grid_index IS NOT NULL AND state != 'crashed'"),
                            postgresql_where=text("grid_index IS NOT NULL AND state != 'crashed'")),
                      Index("uq_sweep_trials_claim", "sweep_pk", "claim", unique=True),
                      Index("uq_sweep_trials_key", "sweep_pk", "config_key", unique=True))
    sweep_pk: Mapped[int] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64))
    params: Mapped[str] = mapped_column(Text)
    grid_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    config_key: Mapped[str | None] = mapped_column(String(64), nullable=True)  # bayes: sha256 of the parameters
    optuna_trial_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # bayes: its trial in Optuna
    state: Mapped[str] = mapped_column(String(16))
    agent: Mapped[str] = mapped_column(Text, default="{}")
    claim: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the agent's token: a retry gets the same
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    seen_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # the agent's last heartbeat
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class ReportRow(Base):
    """A report of a team's project; ``revision`` is its current revision (the text is in ``report_revisions``)."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_team_project", "team_id", "project"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[str] = mapped_column(String(32), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    project: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    updated_by: Mapped[str] = mapped_column(String(128))


class ReportRevision(Base):
    """Every save of a report, with its full text; ``conflict`` marks a refused save on a stale revision."""

    __tablename__ = "report_revisions"
    report_pk: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float)
    title: Mapped[str] = mapped_column(Text)
    markdown: Mapped[str] = mapped_column(Text)
    conflict: Mapped[bool] = mapped_column(Boolean, default=False)


class ReportComment(Base):
    """A comment on a report, or on one of its blocks (``block``: its index)."""

    __tablename__ = "report_comments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_pk: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    block: Mapped[int | None] = mapped_column(Integer, nullable=True)
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)


class ReportShare(Base):
    """A read-only share link of a report: the sha256 of its random token (never the token), until revoked."""

    __tablename__ = "report_shares"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_pk: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(128))
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
