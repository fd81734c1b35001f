"""Typed settings for a run: argument > TRACKER_* environment variable > its WANDB_* twin > default.

Each setting is declared once below, with its environment variable and its doc, and where W&B has
one, the W&B variable read when ours is unset (``fallback_env``), so an environment set up for W&B
keeps working. W&B's words are translated (``fallback_values``: ``WANDB_MODE=dryrun`` is ``offline``;
a tuple names our words in order of preference, the first the setting accepts wins; None means
unset), and ``WANDB_DIR``, the folder W&B puts its ``wandb/`` folder in, gets our store in its
``tracker_runs/`` (``fallback_subdir``). This module imports pydantic, so it is imported only when
a run is first created.

Boolean variables accept only ``true``/``false``/``1``/``0`` (any case); list
variables are comma-separated. An invalid value raises ``SettingsError`` naming
the setting, where it came from, and what is accepted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError, field_validator

from tracker_core._errors import SettingsError

__all__ = ["ALERT_ENV_VARS", "ALL_ENV_VARS", "ENV_VARS", "FALLBACK_ENV_VARS", "GROUPS", "PROVENANCE_ITEMS",
           "AdapterSettings", "AlertSettings", "ServerSettings", "Settings", "SweepSettings", "in_environment",
           "resolve", "resolve_settings", "same_server"]

PROVENANCE_ITEMS = ("command", "cwd", "git", "git_diff", "python", "packages", "host", "gpu")


def _to_tuple(value: Any) -> Any:
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(value)
    return value


def _to_path_str(value: Any) -> Any:
    return os.fspath(value) if isinstance(value, os.PathLike) else value


_StrTuple = Annotated[tuple[str, ...], BeforeValidator(_to_tuple)]


def _env(name: str, doc: str, fallback: str | None = None, values: Mapping[str, Any] | None = None,
         subdir: str | None = None) -> Any:
    """A field's ``json_schema_extra``: its variable and doc; W&B's twin variable, how W&B's words map
    onto ours, and the subfolder a W&B folder variable means (see the module's docstring)."""
    extra: dict[str, Any] = {"env": name, "doc": doc}
    if fallback:
        extra["fallback_env"] = fallback
    if values:
        extra["fallback_values"] = dict(values)
    if subdir:
        extra["fallback_subdir"] = subdir
    return extra


class Settings(BaseModel):
    """Every option of ``init()`` other than ``config``; immutable once resolved."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    dir: Annotated[str, BeforeValidator(_to_path_str)] = Field(
        "tracker_runs", min_length=1,
        json_schema_extra=_env("TRACKER_DIR", "Root directory of the local store.", "WANDB_DIR",
                               subdir="tracker_runs"))
    mode: Literal["online", "offline", "disabled"] | None = Field(
        None,
        json_schema_extra=_env("TRACKER_MODE", "`online` writes the local store and streams it to the team server "
                               "(the default when one is configured); `offline` writes the local store only; "
                               "`disabled` writes nothing.",
                               "WANDB_MODE", {"dryrun": "offline", "online": None, "run": None, "shared": None}))
    server: str | None = Field(
        None, pattern=r"^https?://[^\s/]+",
        json_schema_extra=_env("TRACKER_SERVER", "URL of the team server, e.g. http://tracker.internal:8750; "
                               "defaults to the one `tracker login` stored."))
    api_key: SecretStr | None = Field(
        None, json_schema_extra=_env("TRACKER_API_KEY", "API key for the team server (a secret); defaults to the "
                                     "one `tracker login` stored for that server."))
    sync_timeout: float = Field(
        30.0, ge=0, json_schema_extra=_env(
            "TRACKER_SYNC_TIMEOUT", "Seconds `finish()` waits for the upload to the server in all, counted from the "
            "call; what is left then is uploaded by `tracker sync`, and one line says so."))
    project: str = Field(
        "uncategorized", min_length=1, max_length=128, pattern=r"^[^./\\\x00][^/\\\x00]*$",
        json_schema_extra=_env("TRACKER_PROJECT", "Project the run belongs to (a folder of the store).",
                               "WANDB_PROJECT"))
    entity: str | None = Field(
        None, json_schema_extra=_env("TRACKER_ENTITY", "Team or user that owns the run (metadata only).",
                                     "WANDB_ENTITY"))
    name: str | None = Field(
        None, json_schema_extra=_env("TRACKER_RUN_NAME", "Display name; defaults to a generated one.",
                                     "WANDB_NAME"))
    notes: str | None = Field(None, json_schema_extra=_env("TRACKER_NOTES", "Free-text description.",
                                                           "WANDB_NOTES"))
    tags: _StrTuple = Field(
        (), json_schema_extra=_env("TRACKER_TAGS", "Comma-separated tags.", "WANDB_TAGS"))
    group: str | None = Field(
        None, json_schema_extra=_env("TRACKER_RUN_GROUP", "Group of related runs (a sweep, a DDP job).",
                                     "WANDB_RUN_GROUP"))
    job_type: str | None = Field(
        None, json_schema_extra=_env("TRACKER_JOB_TYPE", "Kind of job, e.g. train or eval.", "WANDB_JOB_TYPE"))
    id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        json_schema_extra=_env("TRACKER_RUN_ID", "Run id to create or resume (letters, digits, `_.-`; max 64).",
                               "WANDB_RUN_ID"))
    resume: Literal["allow", "must", "never", "auto"] | None = Field(
        None, json_schema_extra=_env(
            "TRACKER_RESUME", "`allow`: continue the run if it exists; `must`: it has to exist; `never`: it must not; "
            "`auto`: without an id, continue the store's last run that did not finish cleanly.",
            "WANDB_RESUME", {"true": "auto", "false": None}))
    resume_from_step: int | None = Field(
        None, ge=0, json_schema_extra=_env(
            "TRACKER_RESUME_FROM_STEP", "Rewind a resumed run: history after this step is superseded."))
    reinit: Literal["finish_previous", "return_previous"] = Field(
        "finish_previous", json_schema_extra=_env(
            "TRACKER_REINIT", "What `init()` does while a run is active: finish it, or return it."))
    strict: bool = Field(
        False, json_schema_extra=_env(
            "TRACKER_STRICT", "Raise instead of warning on bad values, backward steps and write failures."))
    step_policy: Literal["warn", "raise"] | None = Field(
        None, json_schema_extra=_env(
            "TRACKER_STEP_POLICY", "A step lower than the current one: `warn` (keep aside) or `raise`; "
            "defaults to `raise` in strict mode, else `warn`."))
    fsync_interval: float = Field(
        5.0, ge=0, json_schema_extra=_env(
            "TRACKER_FSYNC_INTERVAL", "Seconds between fsyncs of the log; 0 fsyncs every record."))
    heartbeat_interval: float = Field(
        30.0, gt=0, json_schema_extra=_env(
            "TRACKER_HEARTBEAT_INTERVAL", "Seconds between heartbeat records of a live run."))
    finish_timeout: float = Field(
        10.0, gt=0, json_schema_extra=_env(
            "TRACKER_FINISH_TIMEOUT", "Upper bound in seconds on the time `finish()` may take (an online run: "
            "on its own steps; it returns within the larger of this and `sync_timeout`)."))
    console: Literal["auto", "off"] = Field(
        "auto", json_schema_extra=_env(
            "TRACKER_CONSOLE", "`auto` also saves stdout/stderr to `files/output.log`; `off` does not.",
            "WANDB_CONSOLE", dict.fromkeys(("on", "wrap", "redirect", "wrap_raw", "wrap_emu"), "auto")))
    distributed: Literal["rank0", "all"] = Field(
        "rank0", json_schema_extra=_env(
            "TRACKER_DISTRIBUTED", "`rank0`: one run per job, written by rank 0; `all`: one run per rank."))
    provenance_exclude: _StrTuple = Field(
        (), json_schema_extra=_env(
            "TRACKER_PROVENANCE_EXCLUDE",
            "Comma-separated provenance items not to capture: " + ", ".join(PROVENANCE_ITEMS) + ", or `all`."))
    git_diff_max_bytes: int = Field(
        262144, ge=0, json_schema_extra=_env(
            "TRACKER_GIT_DIFF_MAX_BYTES", "Largest git diff saved with the run; larger ones are cut."))
    system_interval: float = Field(
        10.0, ge=0, json_schema_extra=_env(
            "TRACKER_SYSTEM_INTERVAL", "Seconds between system metrics samples (CPU, memory, disk, network, GPU); "
            "0 turns the sampler off."))
    artifact_link: Literal["auto", "hardlink"] = Field(
        "auto", json_schema_extra=_env(
            "TRACKER_ARTIFACT_LINK", "How artifact files enter the store: `auto` (reflink, else copy) or "
            "`hardlink` (no extra disk, but the logged files become read-only)."))
    silent: bool = Field(
        False, json_schema_extra=_env("TRACKER_SILENT", "Print nothing at init and finish.", "WANDB_SILENT"))

    @field_validator("project")
    @classmethod
    def _not_reserved(cls, project: str) -> str:
        if project == "artifacts":
            raise ValueError("'artifacts' is where the store keeps artifacts; choose another project name")
        return project

    @property
    def effective_step_policy(self) -> str:
        return self.step_policy or ("raise" if self.strict else "warn")


class AdapterSettings(BaseModel):
    """Options the framework adapters read (keyword arguments of the adapter, not of ``init()``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    log_model: Literal["checkpoint", "end", "false"] | None = Field(
        None, json_schema_extra=_env(
            "TRACKER_LOG_MODEL", "Hugging Face adapter: log `checkpoint`s as they are saved, the model at the `end`, "
            "or `false` (none).", "WANDB_LOG_MODEL", {"true": "end", "1": "end", "0": "false"}))
    watch: Literal["gradients", "parameters", "all", "false"] | None = Field(
        None, json_schema_extra=_env(
            "TRACKER_WATCH", "Hugging Face adapter: `watch()` the model's `gradients`, `parameters`, `all`, or "
            "`false` (nothing).", "WANDB_WATCH", {"0": "false"}))
    hf_autoregister: bool = Field(
        True, json_schema_extra=_env(
            "TRACKER_HF_AUTOREGISTER", "Hugging Face: the start-up hook the package installs makes "
            "`report_to=\"tracker\"` resolve in every interpreter; `0`/`false` turns it off. The hook reads the "
            "raw variable at interpreter start (before this module can load); the callback checks its value."))


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


_Level = Annotated[Literal["INFO", "WARN", "ERROR"], BeforeValidator(_upper)]


class AlertSettings(BaseModel):
    """Alert delivery: targets, and retry bounds (arguments of ``alerts.configure``). Between a variable
    and the default comes the project's ``.alerts.json`` (see ``tracker_core.alerts._config``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    slack_webhook: str | None = Field(
        None, json_schema_extra=_env("TRACKER_ALERT_SLACK_WEBHOOK", "Slack incoming-webhook URL (a secret)."))
    slack_level: _Level = Field(
        "INFO", json_schema_extra=_env("TRACKER_ALERT_SLACK_LEVEL", "Lowest level sent to Slack."))
    webhook: str | None = Field(
        None, json_schema_extra=_env("TRACKER_ALERT_WEBHOOK", "Generic webhook URL, sent a JSON body (a secret)."))
    webhook_level: _Level = Field(
        "INFO", json_schema_extra=_env("TRACKER_ALERT_WEBHOOK_LEVEL", "Lowest level sent to the webhook."))
    smtp_host: str | None = Field(
        None, json_schema_extra=_env("TRACKER_ALERT_SMTP_HOST", "SMTP server for email alerts."))
    smtp_port: int = Field(
        587, gt=0, lt=65536, json_schema_extra=_env("TRACKER_ALERT_SMTP_PORT", "SMTP port."))
    smtp_user: str | None = Field(
        None, json_schema_extra=_env("TRACKER_ALERT_SMTP_USER", "SMTP login name; no login when unset."))
    smtp_password: str | None = Field(
        None, json_schema_extra=_env("TRACKER_ALERT_SMTP_PASSWORD", "SMTP password (a secret)."))
    smtp_starttls: bool = Field(
        True, json_schema_extra=_env("TRACKER_ALERT_SMTP_STARTTLS", "Upgrade the SMTP connection with STARTTLS."))
    email_from: str | None = Field(
        None, json_schema_extra=_env("TRACKER_ALERT_EMAIL_FROM", "Sender address; defaults to the login or "
                                     "tracker@<host>."))
    email_to: _StrTuple = Field(
        (), json_schema_extra=_env("TRACKER_ALERT_EMAIL_TO", "Comma-separated recipients of email alerts."))
    email_level: _Level = Field(
        "INFO", json_schema_extra=_env("TRACKER_ALERT_EMAIL_LEVEL", "Lowest level sent by email."))
    attempts: int = Field(
        5, ge=1, le=100, json_schema_extra=_env("TRACKER_ALERT_ATTEMPTS", "Attempts per alert and target."))
    backoff: float = Field(
        1.0, ge=0, json_schema_extra=_env(
            "TRACKER_ALERT_BACKOFF", "First wait between attempts in seconds; doubles each time, plus jitter."))
    max_backoff: float = Field(
        30.0, ge=0, json_schema_extra=_env(
            "TRACKER_ALERT_MAX_BACKOFF", "Longest wait between attempts, a server's Retry-After included."))
    timeout: float = Field(
        10.0, gt=0, json_schema_extra=_env("TRACKER_ALERT_TIMEOUT", "Seconds one attempt may take."))
    flush_timeout: float = Field(
        5.0, ge=0, json_schema_extra=_env(
            "TRACKER_ALERT_FLUSH_TIMEOUT", "How long the end of a run waits for pending alerts (within "
            "`finish_timeout`)."))


class SweepSettings(BaseModel):
    """What sweep agents and their trials read from the environment."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    agent_kill_delay: float = Field(
        30.0, ge=0, json_schema_extra=_env(
            "TRACKER_AGENT_KILL_DELAY", "Seconds a stopped command trial gets to end by itself before the agent "
            "sends SIGTERM, and again before SIGKILL.", "WANDB_AGENT_KILL_DELAY"))
    sweep_trial: str | None = Field(
        None, json_schema_extra=_env(
            "TRACKER_SWEEP_TRIAL", "Set by `tracker agent` for its command trials: the file with the trial's "
            "sweep, run id and parameters, which `init()` reads (in every rank of a torchrun child)."))


class ServerSettings(BaseModel):
    """What the team server (``tracker server``) reads from the environment; the rest are its options."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    s3_endpoint_url: str | None = Field(
        None, json_schema_extra=_env(
            "TRACKER_S3_ENDPOINT_URL", "The S3-compatible endpoint of `--blobs s3://...` (MinIO, SeaweedFS, ...); "
            "AWS when unset. Credentials come from boto3's usual `AWS_*` variables and profiles."))
    stale_slack: float = Field(
        60.0, ge=0, json_schema_extra=_env(
            "TRACKER_SERVER_STALE_SLACK", "Seconds of clock skew and delivery delay the server allows on top of "
            "3 heartbeat intervals before a run with no final record reads as `crashed`."))


_Model = TypeVar("_Model", bound=BaseModel)

_SECRETS = frozenset({"slack_webhook", "webhook", "smtp_password", "api_key"})
"""Settings whose values never appear in an error message."""

GROUPS: tuple[type[BaseModel], ...] = (Settings, AdapterSettings, AlertSettings, SweepSettings, ServerSettings)
"""Every settings model; each field declares its one TRACKER_* variable."""


def _extra(model: type[BaseModel], name: str) -> dict[str, Any]:
    return model.model_fields[name].json_schema_extra  # type: ignore[return-value]


def _declared(model: type[BaseModel]) -> dict[str, str]:
    return {name: str(_extra(model, name)["env"]) for name in model.model_fields}


ENV_VARS: dict[str, str] = _declared(Settings)
"""``init()`` setting name -> its TRACKER_* environment variable."""

ALERT_ENV_VARS: dict[str, str] = _declared(AlertSettings)
"""Alert setting name -> its TRACKER_ALERT_* environment variable."""

ALL_ENV_VARS: list[str] = [var for model in GROUPS for var in _declared(model).values()]
"""Every TRACKER_* variable the project reads, in declaration order."""

FALLBACK_ENV_VARS: dict[str, str] = {
    str(extra["env"]): str(extra["fallback_env"]) for model in GROUPS for name in model.model_fields
    if "fallback_env" in (extra := _extra(model, name))}
"""TRACKER_* variable -> the WANDB_* variable read when it is unset."""

_BOOL_WORDS = {"true": True, "1": True, "false": False, "0": False}


def _environment(model: type[BaseModel], name: str, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(variable, value) for a setting: its TRACKER_* variable if set, else its W&B twin translated
    (see the module's docstring); None when neither is set (or W&B's word means unset)."""
    extra = _extra(model, name)
    var = extra["env"]
    if environ.get(var, "") != "":
        return var, environ[var]
    fallback = extra.get("fallback_env")
    raw = environ.get(fallback, "") if fallback else ""
    if not fallback or raw == "":
        return None
    values = extra.get("fallback_values") or {}
    word = raw.strip().lower()
    if word in values:
        choice = values[word]
        if choice is None:
            return None
        if isinstance(choice, tuple):  # the first of our words this setting accepts
            choice = next((c for c in choice if c in _literal_values(model.model_fields[name].annotation)), choice[-1])
        raw = choice
    if extra.get("fallback_subdir"):
        raw = os.path.join(raw, extra["fallback_subdir"])
    return fallback, raw


def in_environment(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """True when the ``init()`` setting ``name`` is set by its TRACKER_* variable or its W&B twin."""
    return _environment(Settings, name, os.environ if environ is None else environ) is not None


def _literal_values(annotation: Any) -> set[Any]:
    found: set[Any] = set()
    for arg in get_args(annotation):
        found |= _literal_values(arg) if get_args(arg) else {arg}
    return found


def _parse_env(model: type[BaseModel], name: str, raw: str, var: str) -> Any:
    """Turn an environment string into the setting's Python type; raises SettingsError."""
    annotation = str(model.model_fields[name].annotation)
    if "Literal" in annotation:  # a choice of words, checked by the model ('checkpoint' is no int)
        return raw
    if "bool" in annotation:
        try:
            return _BOOL_WORDS[raw.strip().lower()]
        except KeyError:
            raise SettingsError(var, f"{raw!r} is not a boolean", "use true, false, 1 or 0") from None
    if "tuple" in annotation:
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    if "float" in annotation or "int" in annotation:
        try:
            number = float(raw) if "float" in annotation else int(raw)
        except ValueError:
            raise SettingsError(var, f"{raw!r} is not a number", f"set {var} to a number") from None
        return number
    return raw


def resolve_settings(arguments: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Merge ``init()`` arguments (None means unset) over TRACKER_* variables over defaults.

    Raises:
        SettingsError: an unknown option, or a value of the wrong type or range.
    """
    settings = resolve(Settings, arguments, environ)
    _check_provenance_items(settings)
    return _with_server(settings)


def _with_server(settings: Settings) -> Settings:
    """Fill in the server and key that ``tracker login`` stored, and the mode they imply.

    A stored key is used only for the server it was stored for. Raises SettingsError for
    ``mode="online"`` without a server.
    """
    from tracker_core.sync._credentials import load_credentials

    server, key = settings.server, settings.api_key
    if server is None or key is None:
        stored = load_credentials()
        if stored is not None and (server is None or same_server(server, stored.url)):
            server = server or stored.url
            key = key or SecretStr(stored.key)
    mode = settings.mode or ("online" if server else "offline")
    if mode == "online" and not server:
        raise SettingsError("mode", "'online' needs a team server",
                            "set TRACKER_SERVER=http://host:8750 (and TRACKER_API_KEY), or run `tracker login URL`")
    return settings.model_copy(update={"server": server, "api_key": key, "mode": mode})


def same_server(a: str, b: str) -> bool:
    """Whether two server URLs name the same server (case of the host and a trailing slash aside)."""
    return a.rstrip("/").lower() == b.rstrip("/").lower()


def resolve(model: type[_Model], arguments: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> _Model:
    """Merge arguments (None means unset) over the model's TRACKER_* variables over its defaults.

    Raises:
        SettingsError: an unknown option, or a value of the wrong type or range, naming where it came from.
    """
    environ = os.environ if environ is None else environ
    declared = _declared(model)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, value in arguments.items():
        if name not in declared:
            known = [*declared, "config"] if model is Settings else list(declared)
            raise SettingsError(name, "unknown option", _suggest(name, known))
        if value is not None:
            values[name], sources[name] = value, "argument"
    for name in declared:
        found = None if name in values else _environment(model, name, environ)
        if found is not None:
            var, raw = found
            values[name], sources[name] = _parse_env(model, name, raw, var), f"environment variable {var}"
    try:
        return model(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "settings"
        source = sources.get(name, "argument")
        shown = "a value not shown: it is a secret" if name in _SECRETS else repr(error.get("input"))
        raise SettingsError(f"{name} (from {source})", f"{error['msg']} (got {shown})", _allowed(model, name)) from None


def _check_provenance_items(settings: Settings) -> None:
    unknown = set(settings.provenance_exclude) - set(PROVENANCE_ITEMS) - {"all"}
    if unknown:
        raise SettingsError("provenance_exclude", f"unknown items {sorted(unknown)}",
                            "choose from " + ", ".join(PROVENANCE_ITEMS) + " or all")


def _allowed(model: type[BaseModel], name: str) -> str | None:
    field = model.model_fields.get(name)
    if field is None:
        return None
    hint = f"see {_declared(model)[name]} in the README's settings table"
    annotation = str(field.annotation)
    if "Literal" in annotation:
        hint = f"allowed: {annotation[annotation.index('[') + 1:].rstrip(']').split(']')[0]}; " + hint
    if name == "tags":
        hint = "pass a list of strings, e.g. tags=['baseline']; " + hint
    return hint


def _suggest(name: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean {close[0]!r}?" if close else "known options: " + ", ".join(sorted(known))
