"""Rank detection from the launcher's environment, read before anything else."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

__all__ = ["detect_rank", "job_group"]

_LAUNCHER_RANK_VARS = ("SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "JSM_NAMESPACE_RANK")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def detect_rank(environ: Mapping[str, str] | None = None) -> tuple[int, str]:
    """The global rank of this process and where it was read from; ``(0, "default")`` alone.

    Order, the first present deciding: RANK; LOCAL_RANK with NODE_RANK/GROUP_RANK
    (Lightning's launcher sets no RANK); SLURM_PROCID, OMPI_COMM_WORLD_RANK, PMI_RANK,
    JSM_NAMESPACE_RANK; an initialised torch.distributed (never imported here).
    """
    env = os.environ if environ is None else environ
    rank = _int(env.get("RANK"))
    if rank is not None:
        return rank, "RANK"
    local = _int(env.get("LOCAL_RANK"))
    if local is not None:
        node = _int(env.get("NODE_RANK"))
        node = node if node is not None else _int(env.get("GROUP_RANK"))
        per_node = _int(env.get("LOCAL_WORLD_SIZE"))
        if not node:
            return local, "LOCAL_RANK"
        # Without LOCAL_WORLD_SIZE the exact rank is unknown, but it is certainly not 0.
        return node * per_node + local if per_node else node + local, "LOCAL_RANK+NODE_RANK"
    for name in _LAUNCHER_RANK_VARS:
        rank = _int(env.get(name))
        if rank is not None:
            return rank, name
    dist = sys.modules.get("torch.distributed")
    if dist is not None:
        try:
            if dist.is_available() and dist.is_initialized():
                return int(dist.get_rank()), "torch.distributed"
        except (RuntimeError, ValueError):
            pass
    return 0, "default"


def job_group(environ: Mapping[str, str] | None = None) -> str | None:
    """A name shared by every rank of one launch, for grouping per-rank runs."""
    env = os.environ if environ is None else environ
    for name in ("TORCHELASTIC_RUN_ID", "SLURM_JOB_ID", "OMPI_MCA_ess_base_jobid"):
        value = env.get(name)
        if value and value != "none":
            return f"job-{value}"
    if env.get("MASTER_ADDR") and env.get("MASTER_PORT"):
        return f"job-{env['MASTER_ADDR']}-{env['MASTER_PORT']}"
    return None
