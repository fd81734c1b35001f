"""The embedded local store: run directories, the append-only log, and its replay."""
