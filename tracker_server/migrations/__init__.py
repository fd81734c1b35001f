"""Alembic migrations of the server's schema, run by the server itself (see ``tracker_server._schema``)."""
