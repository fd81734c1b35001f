"""Streaming runs to a team server: the uploader service, ``tracker sync``, and the server client.

Nothing here imports requests or tenacity until a server is actually contacted.
"""

from tracker_core.sync._client import ServerClient, ServerError
from tracker_core.sync._credentials import credentials_path, load_credentials, save_credentials
from tracker_core.sync._uploader import Uploader, uploader_service

__all__ = ["ServerClient", "ServerError", "Uploader", "credentials_path", "load_credentials", "save_credentials",
           "uploader_service"]
