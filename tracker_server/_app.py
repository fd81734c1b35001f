"""The FastAPI application: routers, error bodies, the health check and the (authenticated) OpenAPI spec."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from tracker_server._blobs import open_blob_store
from tracker_server._config import ServerConfig
from tracker_server._database import Database
from tracker_server._deps import ServerState, identity, json_response
from tracker_server._errors import ApiError, SchemaError
from tracker_server._identity import Identity, ensure_secret
from tracker_server._schema import current_revision, head_revision, upgrade
from tracker_server._ui import add_ui_routes
from tracker_server.routers import artifacts, blobs, events, ingest, read, reports, sessions, sweeps, workspace

__all__ = ["create_app", "open_state"]

_log = logging.getLogger("tracker_server")
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}


def open_state(config: ServerConfig, migrate: bool = True) -> ServerState:
    """Connect to the database (upgrading its schema when ``migrate``) and the blob store.

    Raises:
        SchemaError: the schema is newer than this server, or (without ``migrate``) older.
    """
    db = Database(config.database_url)
    schema = upgrade(db) if migrate else current_revision(db)
    if schema != head_revision():
        raise SchemaError(f"the database's schema is {schema!r}, this server needs {head_revision()!r}")
    with db.write() as session:
        secret = ensure_secret(session)
    return ServerState(config, db, open_blob_store(config.blobs_url), secret, schema or "")


def _error(status: int, error: str, detail: str, **extra: Any) -> Response:
    response = json_response({"error": error, "detail": detail, **extra}, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def create_app(config: ServerConfig | None = None, state: ServerState | None = None) -> FastAPI:
    """The server's app over ``state`` (opened from ``config`` when not given)."""
    state = state or open_state(config or ServerConfig())
    app = FastAPI(title="tracker team server", version="1", openapi_url=None, docs_url=None, redoc_url=None,
                  redirect_slashes=False,
                  description="Experiment tracking for teams. Every route but /healthz needs "
                              "`Authorization: Bearer <API key>`. Errors are `{error, detail, ...}` with a 4xx status; "
                              "another team's entity, project or run answers 404 like a missing one.")
    app.state.server = state
    for router in (ingest.router, blobs.router, read.router, events.router, workspace.router, sessions.router,
                   artifacts.router, sweeps.router, reports.router):
        app.include_router(router)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> Response:
        return _error(error.status, error.error, error.detail, **error.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> Response:
        problems = [{"loc": list(p.get("loc", ())), "msg": p.get("msg", "")} for p in error.errors()]
        text = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems)
        return _error(400, "invalid_request", text or "the request is not valid", problems=problems)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException) -> Response:
        return _error(error.status_code, _HTTP_CODES.get(error.status_code, "http_error"), str(error.detail))

    @app.exception_handler(Exception)
    async def _internal(request: Request, error: Exception) -> Response:
        _log.exception("error serving %s %s", request.method, request.url.path)
        return _error(500, "internal", "the server failed; see its log")

    @app.get("/healthz", tags=["meta"], summary="Liveness and schema revision (no key needed)")
    def healthz() -> Response:
        return json_response({"ok": True, "schema": state.schema})

    @app.get("/openapi.json", tags=["meta"], summary="This API's OpenAPI spec", include_in_schema=False)
    def openapi(caller: Annotated[Identity, Depends(identity)]) -> Response:
        return json_response(spec())

    def spec() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            _add_auth(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = spec  # type: ignore[method-assign]
    add_ui_routes(app)  # last: it answers every other path
    return app


def _add_auth(spec: dict[str, Any]) -> None:
    """Declare bearer authentication on every operation but the health check and a share link's, and the error
    body."""
    spec.setdefault("components", {}).setdefault("securitySchemes", {})["apiKey"] = {
        "type": "http", "scheme": "bearer", "description": "an API key from `tracker server keys create`"}
    for path, operations in spec.get("paths", {}).items():
        if path == "/healthz" or path.startswith("/api/v1/shared/"):  # a share link's token is its credential
            continue
        for operation in operations.values():
            operation["security"] = [{"apiKey": []}]
            operation.setdefault("responses", {}).update({
                "401": {"description": "no key, or an unknown or revoked one"},
                "404": {"description": "no such entity, project or run (or another team's)"}})
