"""``tracker server``: run the team server, and manage its API keys (``tracker server keys ...``).

Exit codes: 0 done; 1 nothing to revoke; 2 a usage error or a database that cannot be used.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence

from tracker_server._config import DEFAULT_PORT, ServerConfig

__all__ = ["main"]


def _storage_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="tracker_server",
                        help="folder of the embedded SQLite database and local blobs (default: ./tracker_server)")
    parser.add_argument("--db", help="database URL, e.g. postgresql://tracker@db/tracker (default: SQLite in --data)")
    parser.add_argument("--blobs", help="blob store: s3://bucket/prefix or a folder (default: <data>/blobs); "
                                        "the S3 endpoint comes from TRACKER_S3_ENDPOINT_URL")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tracker server", description="The team server: every run streams to it, "
                                     "and the UI and Api(server=...) read from it.")
    _storage_options(parser)
    parser.add_argument("--host", default="127.0.0.1", help="interface to serve (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    parser.add_argument("--workers", type=int, default=1, help="server processes sharing the port (default: 1)")
    parser.add_argument("--max-batch-bytes", type=int, default=ServerConfig.max_batch_bytes,
                        help="largest records batch accepted (default: %(default)s)")
    sub = parser.add_subparsers(dest="action", metavar="keys")
    keys = sub.add_parser("keys", help="create, list and revoke API keys")
    key_actions = keys.add_subparsers(dest="key_action", required=True, metavar="ACTION")
    create = key_actions.add_parser("create", help="a new key, printed once (last on its line)")
    create.add_argument("--team", required=True, help="team (created if new)")
    create.add_argument("--name", required=True, help="a name for the key, e.g. the machine it is for")
    create.add_argument("--role", choices=["viewer", "member", "admin"], default="member")
    create.add_argument("--user", help="the key's user (created if new; default: the key's name)")
    listing = key_actions.add_parser("list", help="the keys and their users, teams and roles")
    listing.add_argument("--team", help="only the keys of this team's users")
    listing.add_argument("--json", action="store_true")
    revoke = key_actions.add_parser("revoke", help="revoke keys by id or name (effective at once)")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int)
    which.add_argument("--name")
    for p in (create, listing, revoke):
        _storage_options(p)
    return parser


def _config(args: argparse.Namespace) -> ServerConfig:
    return ServerConfig(data=args.data, db=args.db, blobs=args.blobs,
                        max_batch_bytes=getattr(args, "max_batch_bytes", ServerConfig.max_batch_bytes))


def _keys(args: argparse.Namespace) -> int:
    from tracker_server import _identity
    from tracker_server._database import Database
    from tracker_server._schema import upgrade

    db = Database(_config(args).database_url)
    upgrade(db)
    with db.write() as session:
        if args.key_action == "create":
            key = _identity.create_key(session, args.team, args.name, args.role, args.user)
            print(f"API key for {args.user or args.name} ({args.role} of {args.team}), shown once: {key}")
            return 0
        if args.key_action == "revoke":
            count = _identity.revoke_key(session, args.id, args.name)
            print(f"revoked {count} key(s)")
            return 0 if count else 1
        listed = _identity.list_keys(session, args.team)
    if args.json:
        import orjson

        sys.stdout.write(orjson.dumps(listed, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE).decode())
        return 0
    print(f"{'ID':>4}  {'NAME':20} {'USER':16} {'PREFIX':12} {'TEAMS':28} {'CREATED':16} REVOKED")
    for entry in listed:
        roles: dict[str, str] = entry["teams"]  # type: ignore[assignment]
        teams = ",".join(f"{team}:{role}" for team, role in roles.items())
        print(f"{entry['id']:>4}  {entry['name']!s:20} {entry['user']!s:16} {entry['prefix']!s:12} {teams:28} "
              f"{_when(entry['created_at'])!s:16} {_when(entry['revoked_at']) or '-'}")
    return 0


def _when(stamp: object) -> str:
    if not isinstance(stamp, float):
        return ""
    return datetime.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M")


def _tune_gc() -> None:
    """Leave the objects of start-up (modules, the app, ORM mappers) out of the cyclic garbage collector and
    collect the youngest objects less often. Side effect: process-wide collector settings. A batch of 10,000
    points makes some 10^4 dicts that live through the request; with the defaults the full collections they
    set off walked the whole heap, about a third of the server's CPU time on ingest in one measurement."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _serve_one(config: ServerConfig, sock: socket.socket | None, host: str, port: int, migrate: bool) -> None:
    import uvicorn

    from tracker_server._app import create_app, open_state

    app = create_app(state=open_state(config, migrate=migrate))
    _tune_gc()
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                           lifespan="off", timeout_graceful_shutdown=5))
    server.run(sockets=[sock] if sock is not None else None)


def _serve(args: argparse.Namespace) -> int:
    from tracker_server._database import Database
    from tracker_server._schema import upgrade

    config = _config(args)
    db = Database(config.database_url)
    revision = upgrade(db)
    db.dispose()
    where = "SQLite in " + os.path.abspath(config.data) if not config.db else config.database_url.split("@")[-1]
    print(f"tracker server: http://{args.host}:{args.port} (schema {revision}; database {where}; "
          f"blobs {config.blobs_url}; {args.workers} worker(s))", flush=True)
    if args.workers <= 1:
        _serve_one(config, None, args.host, args.port, migrate=False)
        return 0
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return _supervise(config, sock, args)


def _supervise(config: ServerConfig, sock: socket.socket, args: argparse.Namespace) -> int:
    """Fork the workers over one listening socket; forward SIGTERM/SIGINT; restart a worker that dies."""
    children: set[int] = set()
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            try:
                _serve_one(config, sock, args.host, args.port, migrate=False)
            finally:
                os._exit(0)
        children.add(pid)

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(args.workers):
        spawn()
    while children:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        children.discard(pid)
        if not stopping:
            time.sleep(0.5)
            spawn()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tracker server ...``; returns the exit code."""
    from tracker_core._errors import TrackerError

    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return _keys(args) if args.action == "keys" else _serve(args)
    except (TrackerError, ValueError) as error:
        message = str(error).replace("\n", "\n  ")
        print(f"tracker server: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
