"""Streaming runs to a team server: the uploader service, ``tracker sync``, and the server client.

Importing this package is cheap: each name loads its module when first used, and nothing here
imports requests or tenacity until a server is actually contacted.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tracker_core import api

if TYPE_CHECKING:
    from tracker_core.sync._client import ServerClient, ServerError
    from tracker_core.sync._credentials import credentials_path, load_credentials, save_credentials
    from tracker_core.sync._uploader import Uploader, uploader_service

__all__ = ["ServerClient", "ServerError", "Uploader", "credentials_path", "load_credentials", "save_credentials",
           "uploader_service"]

_HOME = {"ServerClient": "_client", "ServerError": "_client", "Uploader": "_uploader",
         "uploader_service": "_uploader", "credentials_path": "_credentials", "load_credentials": "_credentials",
         "save_credentials": "_credentials"}


def _remote_api() -> type[api.Api]:
    from tracker_core.sync._remote import RemoteApi

    return RemoteApi


if _remote_api not in api.REMOTE_API:
    api.REMOTE_API.append(_remote_api)  # Api(server=...) is answered by the team server's read API


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"tracker_core.sync.{_HOME[name]}"), name)
    raise AttributeError(f"module 'tracker_core.sync' has no attribute {name!r}")
