"""The web UI's files: the built bundle in ``tracker_server/_ui/`` served at ``/`` with an SPA fallback.

The bundle is built from ``ui/`` (``npm ci && npm run build``, run by the package build when Node.js is
present); an installation without it answers ``/`` with how to build it. A local ``tracker ui`` sets
``app.state.login_token``: opening ``/?token=<it>`` signs the browser in, as Jupyter's printed URL does.
"""

from __future__ import annotations

import hmac
import mimetypes
import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from tracker_server._deps import json_response

__all__ = ["UI_DIR", "add_ui_routes", "ui_built"]

UI_DIR = Path(__file__).with_name("_ui")
_NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>tracker: web UI not built</title>
<body style="font:15px system-ui;max-width:46em;margin:3em auto">
<h1>The web UI is not built into this installation</h1>
<p>The API works (<code>/api/v1/...</code>); only the browser bundle is missing. Either install a built wheel
(<code>pip install tracker[server]</code> from a wheel carries it), or build it from a source checkout with
Node.js 18+:</p>
<pre>python ui/build_bundle.py   # npm ci, npm run build, then copies ui/dist to tracker_server/_ui</pre>
<p>(<code>pip install .</code> runs the same steps when Node.js is on the PATH.)</p>
"""
_HEADERS = {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


def ui_built(folder: Path = UI_DIR) -> bool:
    return (folder / "index.html").is_file()


def _index(folder: Path) -> Response:
    if not ui_built(folder):
        return HTMLResponse(_NOT_BUILT, status_code=503, headers=_HEADERS)
    return FileResponse(folder / "index.html", media_type="text/html",
                        headers={**_HEADERS, "Cache-Control": "no-cache"})


def _token_sign_in(request: Request) -> Response | None:
    """A redirect that sets a session cookie when the URL carries the local UI's token, else None."""
    expected: str | None = getattr(request.app.state, "login_token", None)
    sent = request.query_params.get("token")
    key_id: int | None = getattr(request.app.state, "login_key_id", None)
    if not expected or not sent or key_id is None or not hmac.compare_digest(sent.encode(), expected.encode()):
        return None
    from tracker_server.routers.sessions import sign_in_with_key_id

    rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    target = request.url.path + ("?" + "&".join(f"{k}={v}" for k, v in rest) if rest else "")
    response = RedirectResponse(target, status_code=303)
    sign_in_with_key_id(request.app.state.server, request, response, key_id)
    return response


def add_ui_routes(app: FastAPI, folder: Path = UI_DIR) -> None:
    """Serve the bundle's files, and its index for every other non-API path (the UI routes in the browser).
    Register after every API router: these routes match any path."""

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> Response:
        return _token_sign_in(request) or _index(folder)

    @app.get("/{path:path}", include_in_schema=False)
    def asset(path: str, request: Request) -> Response:
        if path.startswith("api/") or path == "api":
            return json_response({"error": "not_found", "detail": f"no route /{path}"}, 404)
        target = (folder / path).resolve()
        root = folder.resolve()
        if path.startswith("assets/") and target.is_file() and os.path.commonpath([root, target]) == str(root):
            media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            return FileResponse(target, media_type=media_type,
                                headers={"Cache-Control": "public, max-age=31536000, immutable",
                                         "X-Content-Type-Options": "nosniff"})
        if path.startswith("assets/"):
            return json_response({"error": "not_found", "detail": f"no file /{path}"}, 404)
        return _token_sign_in(request) or _index(folder)
