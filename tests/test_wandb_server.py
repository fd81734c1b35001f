"""W&B calls against the real team server: ``login(key=, host=)`` checks the key, ``run.url`` is the run's
page in the web UI, and ``Api(server=...).runs()`` is W&B's paginated ``Runs`` there too."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import httpx
import pytest
from _team import TeamServer

import tracker_core
from tracker_core import TrackerWarning
from tracker_core.sync import load_credentials
from tracker_server._ui import ui_built

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamServer]:
    server = TeamServer(tmp_path_factory.mktemp("team") / "server").start()
    yield server
    server.kill()


def test_login_checks_the_key_with_the_server_and_stores_a_good_one(team: TeamServer) -> None:
    with pytest.warns(TrackerWarning, match="refused the API key"):
        assert tracker_core.login(key="trk_not-a-key", host=team.url) is False
    assert load_credentials() is None  # a refused key is not stored
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tracker_core.login(key=team.key, host=team.url + "/") is True
    stored = load_credentials()
    assert stored is not None and stored.url == team.url and stored.key == team.key
    run = tracker_core.init(project="after-login")  # the stored login makes runs stream, as after `tracker login`
    assert not run.offline and run.settings.server == team.url
    run.finish()


def test_login_without_a_server_is_true_and_an_unreachable_one_is_false(team: TeamServer,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    assert tracker_core.login(key="anything") is True and load_credentials() is None  # the local store
    monkeypatch.setenv("TRACKER_SERVER", team.url)
    monkeypatch.setenv("TRACKER_API_KEY", team.key)
    assert tracker_core.login() is True and load_credentials() is None  # checked, nothing new to store
    monkeypatch.setenv("TRACKER_API_KEY", "trk_revoked-or-wrong")
    with pytest.warns(TrackerWarning, match="refused"):
        assert tracker_core.login() is False
    monkeypatch.setenv("TRACKER_MODE", "offline")
    assert tracker_core.login() is True  # offline: no server is asked
    monkeypatch.delenv("TRACKER_MODE")
    with pytest.warns(TrackerWarning, match="could not check it"):
        assert tracker_core.login(key=team.key, host="http://127.0.0.1:9", timeout=2) is False


def test_run_url_is_the_runs_page_in_the_web_ui(team: TeamServer, monkeypatch: pytest.MonkeyPatch) -> None:
    offline = tracker_core.init(project="urls", mode="offline")
    assert offline.url is None and offline.get_url() is None and offline.get_project_url() is None
    offline.finish()
    monkeypatch.setenv("TRACKER_SERVER", team.url)
    monkeypatch.setenv("TRACKER_API_KEY", team.key)
    named = tracker_core.init(project="urls", entity="research", name="with entity")
    assert named.url == f"{team.url}/research/urls/runs/{named.id}" == named.get_url()
    assert named.get_project_url() == f"{team.url}/research/urls"
    named.log({"x": 1})
    named.finish()
    unnamed = tracker_core.init(project="url s")  # no entity: the key's only team; parts are percent-encoded
    assert unnamed.url == f"{team.url}/research/url%20s/runs/{unnamed.id}"
    unnamed.finish()
    with httpx.Client(timeout=30) as browser:
        signed_in = browser.post(f"{team.url}/api/v1/session", json={"key": team.key},
                                 headers={"Origin": team.url})
        assert signed_in.status_code == 200, signed_in.text
        page = browser.get(named.url)
        if ui_built():
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            assert '<div id="app"' in page.text or "<script" in page.text
        else:  # the UI's route, answering that the bundle is not built into this installation
            assert page.status_code == 503 and "web UI is not built" in page.text
        run = browser.get(f"{team.url}/api/v1/runs/research/urls/{named.id}")  # what that page then reads
        assert run.status_code == 200 and run.json()["id"] == named.id


def test_the_servers_runs_come_page_by_page(team: TeamServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_SERVER", team.url)
    monkeypatch.setenv("TRACKER_API_KEY", team.key)
    made = []
    for acc in (0.5, 0.9, 0.7, 0.6, 0.8):
        run = tracker_core.init(project="pages", entity="research")
        run.summary["acc"] = acc
        run.finish()
        made.append((acc, run.id))
    runs = tracker_core.Api(server=team.url).runs("research/pages", order="-summary.acc", per_page=2)
    assert len(runs.objects) == 2 and runs.more and len(runs) == 5 and len(runs.objects) == 2
    expected = [run_id for _, run_id in sorted(made, reverse=True)]
    assert runs[3].id == expected[3] and len(runs.objects) == 4
    assert [run.id for run in runs] == expected and not runs.more
    assert [run.id for run in runs[-2:]] == expected[-2:]
    assert [row["run_id"] for row in runs.histories()] == []  # summaries only, no history rows
