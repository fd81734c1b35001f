"""Alert delivery to real servers on 127.0.0.1: retries and backoff, Retry-After, payloads, email over
STARTTLS with login, bounded flushing, undelivered outcomes, alerts raised by the library, no leaked secret."""

from __future__ import annotations

import json
import signal
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _alert_servers import HookServer, SmtpServer, self_signed_cert
from _procs import Child, child_env, events, only_run, requires_torch, run_script

import tracker_core as tracker
from tracker_core import alerts
from tracker_core.alerts import _config

SECRET_TOKEN = "T0SECRET/B0SECRET/xoxSecretToken42"
SMTP_PASSWORD = "smtp-Pa55word-never-written"


@pytest.fixture(autouse=True)
def no_code_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Targets set with alerts.configure() in one test do not leak into the next."""
    monkeypatch.setattr(_config, "_code_targets", ())
    monkeypatch.setattr(_config, "_code_options", {})
    monkeypatch.setattr(_config, "_current", {})


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Millisecond backoff so retries stay quick."""
    for name, value in {"BACKOFF": "0.05", "MAX_BACKOFF": "2", "ATTEMPTS": "4", "TIMEOUT": "3",
                        "FLUSH_TIMEOUT": "8"}.items():
        monkeypatch.setenv(f"TRACKER_ALERT_{name}", value)


@pytest.fixture
def hook() -> Iterator[HookServer]:
    server = HookServer()
    yield server
    server.close()


def test_webhook_retries_500_and_429_honours_retry_after_then_delivers(fast: None) -> None:
    server = HookServer([(500, {}), (429, {"Retry-After": "1"})])
    try:
        alerts.configure(alerts.WebhookTarget(server.url(), headers={"Authorization": "Bearer hdr-secret"}))
        run = tracker.init(project="p", name="bert-base")
        run.log({"loss": 1.0}, step=7)
        started = time.monotonic()
        run.alert("Training Plateau Detected", "val loss has not improved for 5 epochs",
                  level=tracker.AlertLevel.WARN, wait_duration=300)
        assert time.monotonic() - started < 0.2  # returns at once, the server answers later
        first, second, third = server.wait_for(3)
        run.finish()
    finally:
        server.close()
    assert len(server.received) == 3
    assert 0.05 <= second.time - first.time < 1.0  # backoff 0.05 s plus up to 0.05 s of jitter
    assert 1.0 <= third.time - second.time < 2.0  # the server's Retry-After: 1
    body = third.body
    assert body["title"] == "Training Plateau Detected" and body["level"] == "WARN" and body["step"] == 7
    assert body["text"] == "val loss has not improved for 5 epochs" and body["source"] == "user"
    assert body["run"]["id"] == run.id and body["run"]["name"] == "bert-base" and body["run"]["project"] == "p"
    assert third.headers["Authorization"] == "Bearer hdr-secret"
    [stored] = tracker.Api().run(run.path).alerts()
    assert (stored.status, stored.title, stored.level, stored.step) == ("delivered", "Training Plateau Detected",
                                                                        "WARN", 7)
    assert stored.deliveries == [{"target": "webhook 127.0.0.1", "delivered": True, "attempts": 3, "reason": None}]


def test_slack_message_from_the_environment_with_a_minimum_level(
        fast: None, hook: HookServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_ALERT_SLACK_WEBHOOK", hook.url(f"/services/{SECRET_TOKEN}"))
    monkeypatch.setenv("TRACKER_ALERT_SLACK_LEVEL", "warn")
    run = tracker.init(project="foundation", name="gpt-small")
    run.alert("Epoch done", "epoch 1 of 3", level="INFO")  # below Slack's minimum: recorded, not sent
    run.alert("NaN ahead", "loss is 1e30", level="ERROR")
    [received] = hook.wait_for(1)
    run.finish()
    assert received.path == f"/services/{SECRET_TOKEN}"
    message = received.body
    assert message["text"].startswith(":rotating_light: [ERROR] NaN ahead") and "loss is 1e30" in message["text"]
    context = message["blocks"][-1]["elements"][0]["text"]
    assert "gpt-small" in context and "foundation" in context and f"tracker show foundation/{run.id}" in context
    assert run.dir is not None and run.dir in context
    statuses = [(a.title, a.status) for a in tracker.Api().run(run.path).alerts()]
    assert statuses == [("Epoch done", "not_sent"), ("NaN ahead", "delivered")]
    assert len(hook.received) == 1


def test_a_target_that_stays_down_is_recorded_as_undelivered_with_the_reason(
        fast: None, monkeypatch: pytest.MonkeyPatch) -> None:
    down = HookServer([(503, {})], repeat_last=True)
    monkeypatch.setenv("TRACKER_ALERT_ATTEMPTS", "3")
    monkeypatch.setenv("TRACKER_ALERT_WEBHOOK", down.url())
    try:
        alerts.configure(alerts.SlackTarget("http://127.0.0.1:9/nothing-listens"))  # connection refused
        run = tracker.init(project="p")
        run.alert("Down", "nobody hears this")
        run.finish()
    finally:
        down.close()
    assert len(down.received) == 3
    [stored] = tracker.Api().run(run.path).alerts()
    assert stored.status == "undelivered"
    outcomes = {d["target"]: d for d in stored.deliveries}
    assert outcomes["webhook 127.0.0.1"]["attempts"] == 3 and not outcomes["webhook 127.0.0.1"]["delivered"]
    assert outcomes["webhook 127.0.0.1"]["reason"].startswith("HTTP 503") and "after 3 attempts" in stored.reason
    assert "could not connect" in outcomes["slack 127.0.0.1"]["reason"]
    records = [e for e in events(tracker.Api().run(run.path)) if e["type"] == "alert_delivery"]
    assert {r["alert"] for r in records} == {stored.seq} and len(records) == 2


def test_finish_waits_a_bounded_time_for_pending_alerts(monkeypatch: pytest.MonkeyPatch) -> None:
    server = HookServer([(429, {"Retry-After": "60"})], repeat_last=True)
    monkeypatch.setenv("TRACKER_ALERT_WEBHOOK", server.url())
    monkeypatch.setenv("TRACKER_ALERT_MAX_BACKOFF", "60")
    monkeypatch.setenv("TRACKER_ALERT_FLUSH_TIMEOUT", "0.5")
    try:
        run = tracker.init(project="p")
        run.alert("Slow", "the server wants us to come back in a minute")
        server.wait_for(1)
        started = time.monotonic()
        run.finish()
        took = time.monotonic() - started
    finally:
        server.close()
    assert took < 3.0
    [stored] = tracker.Api().run(run.path).alerts()
    assert stored.status == "undelivered" and "not delivered when the run ended" in (stored.reason or "")
    assert tracker.Api().run(run.path).status == "finished"


def test_same_title_is_not_resent_within_wait_duration(fast: None, hook: HookServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_ALERT_WEBHOOK", hook.url())
    run = tracker.init(project="p")
    run.alert("Loss spike", "first", wait_duration=0.5)
    run.alert("Loss spike", "second, too soon", wait_duration=0.5)
    run.alert("Other title", "not throttled by the first")
    time.sleep(0.6)
    run.alert("Loss spike", "third, after the window", wait_duration=0.5)
    hook.wait_for(3)
    run.finish()
    assert sorted(r.body["text"] for r in hook.received) == ["first", "not throttled by the first",
                                                             "third, after the window"]
    stored = tracker.Api().run(run.path).alerts()
    assert [a.status for a in stored] == ["delivered", "suppressed", "delivered", "delivered"]
    assert "wait_duration of 0.5 s" in (stored[1].reason or "")


def test_email_over_starttls_with_login(fast: None, tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    smtp = SmtpServer(cert, key, user="tracker-bot", password=SMTP_PASSWORD)
    try:
        alerts.configure(alerts.EmailTarget(["ml-team@example.com"], host="127.0.0.1", port=smtp.port,
                                            sender="tracker-bot@example.com", username="tracker-bot",
                                            password=SMTP_PASSWORD, min_level="WARN",
                                            ssl_context=ssl.create_default_context(cafile=str(cert))))
        run = tracker.init(project="vision", name="resnet")
        run.alert("Training complete", "perplexity 18.4", level="WARN")
        [message] = smtp.wait_for(1)
        run.finish()
    finally:
        smtp.close()
    assert smtp.logins == ["tracker-bot"]
    assert message["Subject"] == "[tracker WARN] Training complete (resnet)"
    assert message["To"] == "ml-team@example.com" and message["From"] == "tracker-bot@example.com"
    body = message.get_payload()
    assert "perplexity 18.4" in body and f"vision/{run.id}" in body and "Step:    0" in body
    assert [a.status for a in tracker.Api().run(run.path).alerts()] == ["delivered"]


def test_email_login_refused_is_undelivered_without_retrying_or_leaking(fast: None, tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    smtp = SmtpServer(cert, key, user="tracker-bot", password="the-right-one")
    try:
        alerts.configure(alerts.EmailTarget("ml-team@example.com", host="127.0.0.1", port=smtp.port,
                                            username="tracker-bot", password=SMTP_PASSWORD,
                                            ssl_context=ssl.create_default_context(cafile=str(cert))))
        run = tracker.init(project="p")
        run.alert("Hello", "world")
        run.finish()
    finally:
        smtp.close()
    [stored] = tracker.Api().run(run.path).alerts()
    assert stored.status == "undelivered" and stored.deliveries[0]["attempts"] == 1
    assert "login refused (SMTP 535)" in (stored.reason or "") and SMTP_PASSWORD not in (stored.reason or "")
    assert smtp.messages == []


def test_failed_run_alerts_with_the_exception_and_no_secret_reaches_any_run_file(
        hook: HookServer, tmp_path: Path) -> None:
    down = HookServer([(500, {})], repeat_last=True)  # its failures are recorded too
    script = """
        import tracker_core as tracker
        run = tracker.init(project="jobs", name="doomed")
        print("config keys:", sorted(run.config.keys()))
        for step in range(3):
            run.log({"loss": 1.0 / (step + 1)})
        raise ValueError("loss exploded at step 3")
    """
    env = child_env(TRACKER_ALERT_SLACK_WEBHOOK=hook.url(f"/services/{SECRET_TOKEN}"),
                    TRACKER_ALERT_WEBHOOK=down.url(f"/hook?token={SECRET_TOKEN}"), TRACKER_ALERT_ATTEMPTS="2",
                    TRACKER_ALERT_BACKOFF="0.01", TRACKER_ALERT_SMTP_HOST="127.0.0.1",
                    TRACKER_ALERT_SMTP_PORT="9", TRACKER_ALERT_SMTP_USER="bot",
                    TRACKER_ALERT_SMTP_PASSWORD=SMTP_PASSWORD, TRACKER_ALERT_EMAIL_TO="ml@example.com",
                    TRACKER_CONSOLE="auto", TRACKER_SILENT="false")
    try:
        done = run_script(tmp_path, script, env=env)
    finally:
        down.close()
    assert done.returncode == 1 and "ValueError: loss exploded" in done.stderr
    [received] = hook.wait_for(1)
    assert received.body["text"].startswith(":rotating_light: [ERROR] Run doomed failed")
    assert "ValueError: loss exploded at step 3" in received.body["text"]
    stored = only_run("jobs")
    assert stored.status == "failed"
    [alert] = stored.alerts()
    assert (alert.title, alert.level, alert.source, alert.step) == ("Run doomed failed", "ERROR", "run", 3)
    outcomes = {d["target"]: d for d in alert.deliveries}
    assert outcomes["slack 127.0.0.1"]["delivered"] and not outcomes["webhook 127.0.0.1"]["delivered"]
    assert not outcomes["email ml@example.com"]["delivered"]
    files = [path for path in Path(stored.dir).rglob("*") if path.is_file()]
    assert any(path.name == "output.log" for path in files)
    for path in files:
        data = path.read_bytes()
        for secret in (SECRET_TOKEN, SMTP_PASSWORD, "xoxSecretToken42"):
            assert secret.encode() not in data, f"{secret} leaked into {path}"
    assert SECRET_TOKEN not in done.stderr + done.stdout and SMTP_PASSWORD not in done.stderr + done.stdout


def test_killed_run_alerts_before_the_process_dies(hook: HookServer, tmp_path: Path) -> None:
    script = """
        import time
        import tracker_core as tracker
        run = tracker.init(project="jobs", name="preempted")
        run.log({"loss": 0.5})
        print("ready", flush=True)
        while True:
            time.sleep(0.05)
    """
    with Child(tmp_path, script, env=child_env(TRACKER_ALERT_WEBHOOK=hook.url())) as child:
        child.expect("ready")
        child.proc.send_signal(signal.SIGTERM)
        assert child.wait() == -signal.SIGTERM
    [received] = hook.wait_for(1)
    assert received.body["title"] == "Run preempted killed" and "SIGTERM" in received.body["text"]
    assert received.body["level"] == "WARN" and received.body["source"] == "run"
    [alert] = only_run("jobs").alerts()
    assert alert.status == "delivered"


@requires_torch
def test_nan_gradients_from_watch_are_delivered(fast: None, hook: HookServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setenv("TRACKER_ALERT_WEBHOOK", hook.url())
    run = tracker.init(project="p")
    model = torch.nn.Linear(3, 1)
    run.watch(model, log_freq=1)
    for _ in range(3):  # one alert: later ones fall within the library's wait_duration
        model(torch.tensor([[float("nan"), 1.0, 2.0]])).sum().backward()
        run.log({"loss": 1.0})
    [received] = hook.wait_for(1)
    run.finish()
    assert received.body["title"] == "Non-finite gradients" and received.body["level"] == "ERROR"
    assert "weight" in received.body["text"] and received.body["source"] == "watch"
    stored = tracker.Api().run(run.path).alerts()
    assert [a.status for a in stored] == ["delivered", "suppressed", "suppressed"]
    assert len(hook.received) == 1


def test_pending_alerts_are_flushed_at_exit_without_finish(tmp_path: Path) -> None:
    slow = HookServer([(503, {}), (503, {})])  # the third attempt succeeds, after the script's last line
    script = """
        import tracker_core as tracker
        run = tracker.init(project="jobs")
        run.alert("Training complete", "perplexity 18.4")
        print("exiting", flush=True)
    """
    try:
        done = run_script(tmp_path, script, env=child_env(TRACKER_ALERT_WEBHOOK=slow.url(),
                                                          TRACKER_ALERT_BACKOFF="0.2"))
    finally:
        slow.close()
    assert done.returncode == 0, done.stderr
    assert len(slow.received) == 3 and slow.received[-1].body["title"] == "Training complete"
    stored = only_run("jobs")
    assert stored.status == "finished"
    [alert] = stored.alerts()
    assert alert.status == "delivered" and alert.deliveries[0]["attempts"] == 3


def test_a_project_file_configures_its_runs_and_a_variable_wins_over_it(
        fast: None, hook: HookServer, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = store / "nlp"
    project.mkdir(parents=True)
    (project / ".alerts.json").write_text(json.dumps({"slack_webhook": hook.url(f"/services/{SECRET_TOKEN}"),
                                                      "slack_level": "ERROR"}))
    run = tracker.init(project="nlp")
    run.alert("Routine", "a WARN, below the project's ERROR", level="WARN")
    run.finish()
    assert [a.status for a in tracker.Api().run(run.path).alerts()] == ["not_sent"]
    monkeypatch.setenv("TRACKER_ALERT_SLACK_LEVEL", "INFO")  # the variable wins over the file
    run = tracker.init(project="nlp")
    run.alert("Routine", "now sent")
    [received] = hook.wait_for(1)
    run.finish()
    assert received.path == f"/services/{SECRET_TOKEN}" and "now sent" in received.body["text"]
    other = tracker.init(project="vision")  # another project: not configured
    other.alert("Elsewhere", "not sent")
    other.finish()
    assert [a.status for a in tracker.Api().run(other.path).alerts()] == ["not_sent"]
    assert len(hook.received) == 1 and len(tracker.Api().runs("nlp")) == 2


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "is not JSON"),
    ('{"slack_webhok": "https://x.example/y"}', "did you mean 'slack_webhook'?"),
    ('{"slack_level": "LOUD"}', "allowed: 'INFO', 'WARN', 'ERROR'"),
    (json.dumps({"webhook": f"hooks.example.com/{SECRET_TOKEN}"}), "not an http(s) URL"),
    (json.dumps({"smtp_password": [SECRET_TOKEN]}), "a value not shown: it is a secret"),  # the wrong type
])
def test_a_bad_project_file_fails_at_init_naming_the_file(store: Path, content: str, message: str) -> None:
    (store / "nlp").mkdir(parents=True)
    (store / "nlp" / ".alerts.json").write_text(content)
    with pytest.raises(tracker.SettingsError, match="Hint:") as error:
        tracker.init(project="nlp")
    assert message in str(error.value) and ".alerts.json" in str(error.value)
    assert SECRET_TOKEN not in str(error.value)
