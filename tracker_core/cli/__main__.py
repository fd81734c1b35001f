"""``python -m tracker_core.cli``: the same as the ``tracker`` command."""

from tracker_core.cli import main_exit

main_exit()
