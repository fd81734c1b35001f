"""Alerts as recorded in a run: arguments, levels, configuration errors, the plateau rule, lazy imports,
and how Api and `tracker show` list them. Delivery to real servers is in test_alert_delivery.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from _alert_servers import HookServer
from _procs import child_env, events

import tracker_core as tracker
from tracker_core import alerts
from tracker_core.alerts import _config
from tracker_core.cli import main

SECRET = "T0/B0/xoxSecret77"


@pytest.fixture(autouse=True)
def no_code_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_config, "_code_targets", ())
    monkeypatch.setattr(_config, "_code_options", {})
    monkeypatch.setattr(_config, "_current", {})


def test_every_alert_is_recorded_with_title_text_level_and_step() -> None:
    run = tracker.init(project="p")
    run.log({"loss": 1.0})
    run.log({"loss": 0.5})
    tracker.alert("Halfway", "epoch 5 of 10")  # module level, like wandb.alert
    run.alert("Diverging", "loss 1e9", level=tracker.AlertLevel.ERROR, wait_duration=0)
    run.finish()
    stored = tracker.Api().run(run.path).alerts()
    assert [(a.title, a.text, a.level, a.step, a.source, a.status) for a in stored] == [
        ("Halfway", "epoch 5 of 10", "INFO", 2, "user", "not_sent"),
        ("Diverging", "loss 1e9", "ERROR", 2, "user", "not_sent")]
    assert stored[0].time > 0 and stored[0].reason == "no delivery target takes this level"
    record = next(e for e in events(tracker.Api().run(run.path)) if e["type"] == "alert")
    assert record["targets"] == [] and record["wait_duration"] == 60.0


def test_bad_alert_arguments_raise_with_a_hint() -> None:
    run = tracker.init(project="p")
    for kwargs in ({"level": "LOUD"}, {"wait_duration": -1}, {"wait_duration": "5m"}):
        with pytest.raises(tracker.SettingsError, match="Hint:"):
            run.alert("title", "text", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(tracker.SettingsError, match="title"):
        run.alert("", "text")
    with pytest.raises(tracker.RunStateError):
        tracker.finish()
        tracker.alert("no run", "text")


def test_bad_target_configuration_fails_when_configured_without_showing_the_secret() -> None:
    with pytest.raises(tracker.SettingsError, match="Hint:") as error:
        alerts.SlackTarget(f"hooks.slack.com/services/{SECRET}")  # no scheme
    assert SECRET not in str(error.value)
    with pytest.raises(tracker.SettingsError, match="min_level"):
        alerts.WebhookTarget("https://example.com/hook", min_level="LOUD")
    with pytest.raises(tracker.SettingsError, match="email addresses"):
        alerts.EmailTarget("not-an-address", host="smtp.example.com")
    with pytest.raises(tracker.SettingsError, match="in clear"):
        alerts.EmailTarget("a@example.com", host="smtp.example.com", username="u", password="p", starttls=False)
    with pytest.raises(tracker.SettingsError, match="not a target"):
        alerts.configure("https://example.com/hook")  # type: ignore[arg-type]
    with pytest.raises(tracker.SettingsError, match="attempts"):
        alerts.configure(attempts=0)


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("TRACKER_ALERT_WEBHOOK", f"ftp://example.com/{SECRET}", "TRACKER_ALERT_WEBHOOK"),
    ("TRACKER_ALERT_SLACK_WEBHOOK", f"https://hooks slack/{SECRET}", "TRACKER_ALERT_SLACK_WEBHOOK"),
    ("TRACKER_ALERT_SLACK_LEVEL", "loud", "allowed: 'INFO', 'WARN', 'ERROR'"),
    ("TRACKER_ALERT_SMTP_HOST", "smtp.example.com", "TRACKER_ALERT_EMAIL_TO"),
    ("TRACKER_ALERT_ATTEMPTS", "many", "TRACKER_ALERT_ATTEMPTS"),
])
def test_bad_alert_variables_fail_at_init(monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
                                          message: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(tracker.SettingsError, match="Hint:") as error:
        tracker.init(project="p")
    assert message in str(error.value) and SECRET not in str(error.value)
    assert tracker.run is None


def test_metric_not_improving_for_n_evaluations_raises_one_alert_per_plateau() -> None:
    run = tracker.init(project="p")
    run.define_metric("val/loss", goal="minimize", alert_after=3)
    run.define_metric("val/acc", summary="max", alert_after=2)
    for step, (loss, acc) in enumerate([(1.0, 0.5), (0.8, 0.6), (0.9, 0.7), (0.85, 0.8), (0.81, 0.9),
                                        (0.95, 0.95), (0.5, 0.97), (0.6, 0.99)]):
        run.log({"val/loss": loss, "val/acc": acc}, step=step)
    run.log({"val/loss": float("nan")}, step=8)  # NaN is not an evaluation
    for step, loss in enumerate([0.7, 0.7], start=9):
        run.log({"val/loss": loss}, step=step)
    run.finish()
    stored = tracker.Api().run(run.path).alerts()
    assert [(a.title, a.level, a.step, a.source) for a in stored] == [
        ("val/loss has not improved", "WARN", 4, "metric"), ("val/loss has not improved", "WARN", 10, "metric")]
    assert stored[0].text == ("val/loss has not improved for 3 evaluations: best 0.8 at step 1, "
                              "latest 0.81 at step 4.")
    assert [a.status for a in stored] == ["not_sent", "suppressed"]  # within the default wait_duration of 60 s


def test_alert_after_needs_a_direction_and_a_count() -> None:
    run = tracker.init(project="p")
    with pytest.raises(tracker.SettingsError, match="goal='minimize'"):
        run.define_metric("val/loss", alert_after=3)
    with pytest.raises(tracker.SettingsError, match="alert_after=5"):
        run.define_metric("val/loss", goal="minimize", alert_after=0)
    with pytest.raises(tracker.SettingsError, match="alert_after=5"):
        run.define_metric("val/loss", goal="minimize", alert_after=True)  # type: ignore[arg-type]


def test_the_rule_survives_a_resume() -> None:
    run = tracker.init(project="p", id="plateau-run")
    run.define_metric("val/loss", goal="minimize", alert_after=2)
    run.log({"val/loss": 1.0})
    run.finish()
    run = tracker.init(project="p", id="plateau-run", resume="must")
    for loss in (0.5, 0.6, 0.7):
        run.log({"val/loss": loss})
    run.finish()
    assert [a.title for a in tracker.Api().run(run.path).alerts()] == ["val/loss has not improved"]


def test_requests_and_tenacity_are_imported_only_once_a_target_is_configured(tmp_path: object) -> None:
    server = HookServer()
    code = """
import sys, time
import tracker_core as tracker
from tracker_core import alerts
run = tracker.init(project="p")
run.alert("no target", "recorded only")
print("before", [m for m in ("requests", "tenacity") if m in sys.modules])
alerts.configure(alerts.WebhookTarget(sys.argv[1]))
print("configured", [m for m in ("requests", "tenacity") if m in sys.modules])
run.alert("with a target", "sent")
run.finish()
print("after", [m for m in ("requests", "tenacity") if m in sys.modules])
"""
    try:
        done = subprocess.run([sys.executable, "-c", code, server.url()], env=child_env(), capture_output=True,
                              text=True, timeout=60)
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["before []", "configured []", "after ['requests', 'tenacity']"]
    assert [r.body["title"] for r in server.received] == ["with a target"]


def test_tracker_show_lists_alerts_with_their_delivery(capsys: pytest.CaptureFixture[str]) -> None:
    run = tracker.init(project="p")
    run.log({"loss": 1.0})
    run.alert("Plateau", "no progress", level="WARN", wait_duration=600)
    run.alert("Plateau", "no progress again", level="WARN", wait_duration=600)
    run.finish()
    assert main(["show", run.path]) == 0
    out = capsys.readouterr().out
    section = out[out.index("alerts\n"):]
    assert "WARN" in section and "Plateau" in section and "not_sent" in section
    assert "suppressed: the same title was sent" in section
    assert main(["show", run.path, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["alerts"]
    assert [(a["title"], a["status"], a["step"], a["level"]) for a in shown] == [
        ("Plateau", "not_sent", 1, "WARN"), ("Plateau", "suppressed", 1, "WARN")]


def test_a_disabled_run_records_and_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    server = HookServer()
    monkeypatch.setenv("TRACKER_ALERT_WEBHOOK", server.url())
    try:
        run = tracker.init(project="p", mode="disabled")
        run.alert("quiet", "nothing")
        run.finish()
    finally:
        server.close()
    assert server.received == [] and tracker.Api().runs("p") == []


def test_messages_are_built_by_pure_functions() -> None:
    from tracker_core.alerts._messages import Alert, email_message, slack_payload, webhook_payload

    alert = Alert(seq=12, title="Loss\nspike", text="x" * 4000, level=tracker.AlertLevel.WARN, step=3, time=0.0,
                  source="user", run_id="abc", run_name="bert", project="nlp", run_dir="/runs/nlp/abc", host="gpu1")
    slack = slack_payload(alert)
    assert slack["blocks"][1]["text"]["text"] == "x" * 2900 + "…"  # Slack refuses longer section texts
    assert slack["blocks"][2]["elements"][0]["text"] == (
        "run *bert* (`nlp/abc`) in project *nlp*, step 3, 1970-01-01T00:00:00+00:00. "
        "Details: `tracker show nlp/abc` (folder gpu1:/runs/nlp/abc)")
    assert webhook_payload(alert)["run"] == {"id": "abc", "name": "bert", "project": "nlp", "path": "nlp/abc",
                                             "dir": "/runs/nlp/abc", "host": "gpu1"}
    message = email_message(alert, "bot@example.com", ("a@example.com", "b@example.com"))
    assert message["Subject"] == "[tracker WARN] Loss spike (bert)" and message["To"] == "a@example.com, b@example.com"


class _Exploding(alerts.Target):
    """A target with a bug: its failure must be recorded (without its secret) and training go on."""

    kind = "custom"

    @property
    def name(self) -> str:
        return "custom pager"

    def secrets(self) -> tuple[str, ...]:
        return (SECRET,)

    def send(self, alert: object, timeout: float) -> None:
        raise RuntimeError(f"pager API rejected key {SECRET}")


def test_a_target_that_raises_is_recorded_as_undelivered_and_training_goes_on() -> None:
    alerts.configure(_Exploding(min_level="INFO"))
    run = tracker.init(project="p")
    run.alert("Hello", "world")
    run.log({"loss": 1.0})
    run.finish()
    [stored] = tracker.Api().run(run.path).alerts()
    assert stored.status == "undelivered"
    assert stored.reason == "custom pager: RuntimeError: pager API rejected key <hidden>"
    assert tracker.Api().run(run.path).summary["loss"] == 1.0
