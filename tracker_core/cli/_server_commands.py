"""``tracker login`` and ``tracker sync``: the client's side of the team server."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from tracker_core._errors import SettingsError, TrackerError

__all__ = ["login", "server_settings", "sync"]


def server_settings(server: str | None) -> tuple[str, str | None]:
    """The server URL (``--server``, else TRACKER_SERVER, else ``tracker login``'s) and its key.

    Raises:
        SettingsError: no server is configured.
    """
    from tracker_core._settings import resolve_settings

    settings = resolve_settings({"server": server})
    if not settings.server:
        raise SettingsError("server", "no team server is configured",
                            "pass --server URL, set TRACKER_SERVER, or run `tracker login URL`")
    key = settings.api_key.get_secret_value() if settings.api_key is not None else None
    return settings.server, key


def login(_: object, args: argparse.Namespace) -> int:
    """Ask for the API key, check it with the server, store URL and key for this user (mode 0600)."""
    from tracker_core._settings import resolve_settings
    from tracker_core.sync import ServerClient, ServerError, save_credentials

    url = str(resolve_settings({"server": args.url}).server).rstrip("/")
    if sys.stdin.isatty():
        key = getpass.getpass(f"API key for {url} (input hidden): ").strip()
    else:
        key = sys.stdin.readline().strip()
    if not key:
        raise SettingsError("API key", "none was given", "paste the key `tracker server keys create` printed")
    client = ServerClient(url, key, timeout=15)
    try:
        who = client.whoami()
    except ServerError as exc:
        hint = "check the key (it may have been revoked)" if exc.status == 401 else "check the URL and that the " \
            "server runs"
        raise TrackerError(f"could not log in to {url}: {exc}\nHint: {hint}") from None
    finally:
        client.close()
    path = save_credentials(url, key)
    teams = ", ".join(f"{team.get('name')} ({team.get('role')})" for team in who.get("teams", [])) or "no team"
    print(f"logged in to {url} as {who.get('user')} (teams: {teams}); key stored in {path} (mode 0600)")
    return 0


def sync(_: object, args: argparse.Namespace) -> int:
    """Upload every run and report of a local store that the server lacks; exit 1 if some could not be."""
    from tracker_core._settings import resolve_settings
    from tracker_core.sync import ServerClient
    from tracker_core.sync._sync import being_written, needs_sync, store_runs, sync_run

    root = os.path.abspath(os.path.expanduser(args.path or resolve_settings({"dir": args.dir}).dir))
    url, key = server_settings(args.server)
    client = ServerClient(url, key)
    done = up_to_date = live = failed = reports = reports_failed = 0
    unreachable = False
    try:
        for run_dir in store_runs(root):
            path = f"{run_dir.project}/{run_dir.run_id}"
            if not needs_sync(run_dir, client.url):
                up_to_date += 1
                continue
            if being_written(run_dir):
                live += 1
                print(f"{path}: still being written; its own process uploads it")
                continue
            result = sync_run(client, run_dir, entity=args.entity)
            sent = f"sent {result.records} records, {result.blobs} files (server holds seq 1..{result.acked_seq})"
            if result.unreachable:
                failed += 1
                print(f"{path}: {sent}; stopped: {result.error}. The server is unreachable: the rest waits for "
                      "the next `tracker sync`")
                unreachable = True
                break
            if result.error:
                failed += 1
                print(f"{path}: {sent}; stopped: {result.error}")
            else:
                done += 1
                print(f"{path}: {sent}")
        if not unreachable:
            from tracker_core.reports._sync import sync_reports
            from tracker_core.sync import ServerError

            try:
                for report_id, what, bad in sync_reports(client, root, args.entity):
                    print(f"report {report_id}: {what}")
                    reports += 1
                    reports_failed += bad
            except ServerError as error:
                reports_failed += 1
                print(f"reports: stopped: {error}")
    finally:
        client.close()
    print(f"synced {done} runs to {client.url}; {up_to_date} already there, {live} still running, {failed} failed")
    if reports or reports_failed:
        print(f"synced {reports - reports_failed} reports; {reports_failed} failed")
    return 1 if failed or reports_failed else 0
