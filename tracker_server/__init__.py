"""The tracker's team server: one place every run streams to, and the read API the UI is built on.

Start it with ``tracker server`` (or ``python -m tracker_server``); see ``create_app`` to embed it.
"""

from tracker_server._app import create_app
from tracker_server._config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
