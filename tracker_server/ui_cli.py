"""``tracker ui``: the web UI over a local store, with no account.

The team server's app runs over an embedded SQLite database in a cache folder, fed from the store by
``Importer``; its report routes read and write the store's own ``.reports`` folder (``LocalReports``), so
a report made in the browser is a file of the store, as one saved by a script is. On loopback (the
default) the printed URL carries a random token that signs the browser in, as Jupyter's does; on any other
interface (``--host``) the browser signs in with the API key printed once at start.

Exit codes: 0 stopped; 2 a usage error or a port that cannot be served.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import sys
import threading
import webbrowser
from collections.abc import Sequence

from tracker_server._config import DEFAULT_PORT

__all__ = ["main"]

LOCAL_TEAM = "local"
_KEY_NAME = "tracker-ui"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tracker ui", description="Browse a local store's runs in a web browser "
                                     "(live: runs that are logging appear and grow).")
    parser.add_argument("--dir", default=os.environ.get("TRACKER_DIR") or "tracker_runs",
                        help="the local store (default: TRACKER_DIR or ./tracker_runs)")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1; others need sign-in)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--cache", help="folder of the UI's database (default: under ~/.cache/tracker/ui)")
    return parser


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tracker ui ...``; returns the exit code."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    import uvicorn
    from sqlalchemy import select

    from tracker_server._app import create_app, open_state
    from tracker_server._config import ServerConfig
    from tracker_server._deps import Scope
    from tracker_server._identity import authenticate, create_key, revoke_key
    from tracker_server._local import Importer, cache_folder
    from tracker_server._models import ApiKey
    from tracker_server._ui import ui_built

    cache = args.cache or cache_folder(args.dir)
    state = open_state(ServerConfig(data=cache))
    state.local_reports, state.local_team = os.path.abspath(args.dir), LOCAL_TEAM  # reports stay files of the store
    user = os.environ.get("USER") or "local"
    with state.db.write() as session:
        revoke_key(session, name=_KEY_NAME)  # one key per UI process; the previous one's sessions end
        key = create_key(session, LOCAL_TEAM, _KEY_NAME, "admin", user=user)
    with state.db.read() as session:
        identity = authenticate(session.connection(), state.secret, key)
        key_id = session.scalars(select(ApiKey.id).where(ApiKey.name == _KEY_NAME, ApiKey.revoked_at.is_(None))
                                 .order_by(ApiKey.id.desc())).first()
    if identity is None or key_id is None:
        raise RuntimeError("the UI's own key was not stored")
    team_id = identity.teams[LOCAL_TEAM][0]
    importer = Importer(args.dir, state, Scope(identity, LOCAL_TEAM, team_id, "admin"))
    importer.scan()  # the first page already shows every run
    importer.start()
    app = create_app(state=state)
    loopback = is_loopback(args.host)
    token = secrets.token_urlsafe(24)
    if loopback:
        app.state.login_token, app.state.login_key_id = token, key_id
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{args.port}/{LOCAL_TEAM}" + (f"?token={token}" if loopback else "")
    print(f"tracker ui: {os.path.abspath(args.dir)} at {url}", flush=True)
    if not loopback:
        print(f"tracker ui: serving {args.host}: sign in with this API key (shown once): {key}", flush=True)
    if not ui_built():
        print("tracker ui: the web UI bundle is not built; build it with: python ui/build_bundle.py", flush=True)
    if not args.no_browser:
        threading.Timer(0.5, lambda: webbrowser.open(url)).start()
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                                           access_log=False, lifespan="off", timeout_graceful_shutdown=2))
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        importer.stop()
    return 0 if server.started else 2


if __name__ == "__main__":
    sys.exit(main())
