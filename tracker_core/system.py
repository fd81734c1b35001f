"""System metrics: one ``sample()`` of the host and this process, and a daemon thread that emits one every N seconds.

Keys (floats; MB means 2**20 bytes), with where they come from on Linux:

- ``system/cpu_percent``: the whole machine, 0-100 (all cores together); ``/proc/stat`` deltas.
- ``system/process_cpu_percent``: this process, 100 per busy core (0 to 100 x cores); ``os.times()`` deltas.
- ``system/process_rss_mb``: this process's resident memory; ``/proc/self/statm``.
- ``system/memory_percent``: machine memory in use, 0-100; ``/proc/meminfo``, 1 - MemAvailable/MemTotal.
- ``system/disk_used_percent``: used space of the working directory's filesystem, as ``df`` shows it;
  ``os.statvfs``.
- ``system/disk_read_mb``, ``system/disk_write_mb``: bytes read from / written to the machine's physical
  disks since the first sample, by every process (DataLoader workers included), not only this one;
  ``/proc/diskstats``, counting only the devices that ``/sys/block/<name>/device`` shows to be hardware
  (no partitions, loop, dm or md devices, so nothing is counted twice). Left out without ``/sys/block``.
- ``system/network_sent_mb``, ``system/network_recv_mb``: bytes over every interface but ``lo`` since the
  first sample; ``/proc/net/dev`` (this process's network namespace).
- ``system/gpu.{i}.utilization`` (%), ``.memory_used_mb``, ``.memory_total_mb``, ``.temperature_c``,
  ``.power_w``: each NVIDIA GPU of the machine, ``i`` as ``nvidia-smi`` numbers them (all GPUs, whatever
  ``CUDA_VISIBLE_DEVICES`` says); NVML (``pynvml``, from ``nvidia-ml-py``) when importable and it finds one.
- ``system/gpu.{i}.torch_allocated_mb``, ``.torch_reserved_mb``: this process's CUDA caching allocator,
  memory in tensors vs memory held from the driver (the gap is cache and fragmentation), for the current
  device and any other it holds memory on; only when the program already imported torch and initialised
  CUDA. Under NVML the device is matched to NVML's ``i`` by UUID (torch's ordinals follow
  ``CUDA_VISIBLE_DEVICES`` and need not be NVML's); without NVML ``i`` is torch's ordinal.

Rates (``cpu_percent``, ``process_cpu_percent``) need two readings, so the first sample of a
``Probe`` leaves them out; counters (disk and network bytes) are 0.0 in it. A counter that goes
backwards (an interface that was reset) counts from its new value, so totals never decrease.

Anything that cannot be read (no ``/proc``, no permission, no GPU, no NVML, a driver error) is left
out, silently. On platforms other than Linux, ``psutil`` is used when importable for the CPU, memory
and I/O figures; without it those are left out. Nothing heavy is imported with this module: psutil,
pynvml and torch only on the first sample that needs them (torch is never imported here: only used
when ``sys.modules`` already holds it).

``SystemSampler`` takes a baseline when it starts, so every sample it emits has the rates.
With ``labels={"rank": "3"}`` its keys are ``system/rank3/...`` (``system/rank3/cpu_percent``): each
rank of a per-rank job reports its own host and process under its own name. A run written by rank 0
only records rank 0's host. Other labels are ignored.
"""

from __future__ import annotations

import importlib
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["PROC", "SYS", "Probe", "SystemSampler", "sample"]

PROC = "/proc"  # read at each sample, so tests can point it elsewhere
SYS = "/sys"
_MB = float(1 << 20)
_SECTOR = 512  # /proc/diskstats counts 512-byte sectors whatever the device's own sector size
_LINUX = sys.platform.startswith("linux")

Sample = dict[str, float | int]


def _read(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as f:
        return f.read()


class _Counters:
    """Totals of named monotonic counters since the first reading, robust to resets and new names."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, ...]] = {}
        self._total: list[int] | None = None

    def update(self, current: Mapping[str, tuple[int, ...]]) -> list[int]:
        for name, values in current.items():
            last = self._last.get(name)
            if self._total is None:
                self._total = [0] * len(values)
            if last is not None:
                for k, (new, old) in enumerate(zip(values, last, strict=True)):
                    self._total[k] += new - old if new >= old else new  # a reset counts from zero
            self._last[name] = values
        return list(self._total) if self._total is not None else []


class Probe:
    """Takes samples; keeps the previous readings that rates and totals need. Not thread-safe.

    ``sample()`` never raises: a source that fails is left out of the result.
    """

    def __init__(self) -> None:
        self._cpu: tuple[int, int] | None = None  # (busy, total) jiffies
        self._proc: tuple[float, float] | None = None  # (cpu seconds, monotonic seconds)
        self._disk = _Counters()
        self._net = _Counters()
        self._physical: dict[str, bool] = {}
        self._nvml: Any = None  # the pynvml module once initialised; False when unavailable
        self._gpu_uuids: dict[str, int] = {}
        self._psutil: Any = None

    def sample(self) -> Sample:
        out: Sample = {}
        for source in (self._cpu_percent, self._process, self._memory, self._disk_used, self._disk_io,
                       self._network, self._gpus, self._torch):
            try:
                source(out)
            except Exception:  # noqa: BLE001, S110 - metrics are best effort: what cannot be read is left out
                pass
        return out

    def close(self) -> None:
        """Release NVML if this probe initialised it."""
        nvml, self._nvml = self._nvml, False
        if nvml:
            try:
                nvml.nvmlShutdown()
            except Exception:  # noqa: BLE001, S110 - nothing to do about a driver that fails to shut down
                pass

    # --- CPU and memory -------------------------------------------------------------------------

    def _cpu_percent(self, out: Sample) -> None:
        if _LINUX:
            fields = _read(f"{PROC}/stat").split("\n", 1)[0].split()
            if fields[0] != "cpu":
                return
            ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal (guest is in user)
            now = (sum(ticks) - ticks[3] - ticks[4], sum(ticks))
        else:
            psutil = self._load_psutil()
            if psutil is None:
                return
            times = psutil.cpu_times()
            total = sum(times)
            now = (round((total - times.idle - getattr(times, "iowait", 0.0)) * 100), round(total * 100))
        before, self._cpu = self._cpu, now
        if before is not None and now[1] > before[1]:
            out["system/cpu_percent"] = min(100.0, max(0.0, 100.0 * (now[0] - before[0]) / (now[1] - before[1])))

    def _process(self, out: Sample) -> None:
        t = os.times()
        now = (t.user + t.system, time.monotonic())
        before, self._proc = self._proc, now
        if before is not None and now[1] > before[1]:
            out["system/process_cpu_percent"] = max(0.0, 100.0 * (now[0] - before[0]) / (now[1] - before[1]))
        if _LINUX:
            pages = int(_read(f"{PROC}/self/statm").split()[1])
            out["system/process_rss_mb"] = pages * os.sysconf("SC_PAGE_SIZE") / _MB
        elif (psutil := self._load_psutil()) is not None:
            out["system/process_rss_mb"] = psutil.Process().memory_info().rss / _MB

    def _memory(self, out: Sample) -> None:
        if not _LINUX:
            if (psutil := self._load_psutil()) is not None:
                out["system/memory_percent"] = float(psutil.virtual_memory().percent)
            return
        info: dict[str, int] = {}
        for line in _read(f"{PROC}/meminfo").splitlines():
            name, _, rest = line.partition(":")
            if rest.split():
                info[name] = int(rest.split()[0])
        total = info["MemTotal"]
        available = info.get("MemAvailable")
        if available is None:  # kernels before 3.14
            available = info.get("MemFree", 0) + info.get("Buffers", 0) + info.get("Cached", 0)
        if total > 0:
            out["system/memory_percent"] = min(100.0, max(0.0, 100.0 * (total - available) / total))

    # --- disk and network -----------------------------------------------------------------------

    def _disk_used(self, out: Sample) -> None:
        st = os.statvfs(os.getcwd())
        used = (st.f_blocks - st.f_bfree) * st.f_frsize
        usable = used + st.f_bavail * st.f_frsize  # as df: blocks reserved for root are not usable
        if usable > 0:
            out["system/disk_used_percent"] = 100.0 * used / usable

    def _disk_io(self, out: Sample) -> None:
        disks: dict[str, tuple[int, ...]] = {}
        if _LINUX:
            if not os.path.isdir(f"{SYS}/block"):
                return  # without sysfs, partitions and virtual devices cannot be told apart
            for line in _read(f"{PROC}/diskstats").splitlines():
                fields = line.split()
                if len(fields) >= 10 and self._is_physical(fields[2]):
                    disks[fields[2]] = (int(fields[5]) * _SECTOR, int(fields[9]) * _SECTOR)
        elif (psutil := self._load_psutil()) is not None:
            per_disk = psutil.disk_io_counters(perdisk=True) or {}
            disks = {name: (c.read_bytes, c.write_bytes) for name, c in per_disk.items()}
        else:
            return
        totals = self._disk.update(disks) or [0, 0]
        out["system/disk_read_mb"] = totals[0] / _MB
        out["system/disk_write_mb"] = totals[1] / _MB

    def _is_physical(self, name: str) -> bool:
        known = self._physical.get(name)
        if known is None:
            known = self._physical[name] = os.path.exists(f"{SYS}/block/{name.replace('/', '!')}/device")
        return known

    def _network(self, out: Sample) -> None:
        interfaces: dict[str, tuple[int, ...]] = {}
        if _LINUX:
            for line in _read(f"{PROC}/net/dev").splitlines()[2:]:
                name, _, rest = line.partition(":")
                fields = rest.split()
                if name.strip() != "lo" and len(fields) >= 9:
                    interfaces[name.strip()] = (int(fields[8]), int(fields[0]))  # (sent, received) bytes
        elif (psutil := self._load_psutil()) is not None:
            per_nic = psutil.net_io_counters(pernic=True) or {}
            interfaces = {n: (c.bytes_sent, c.bytes_recv) for n, c in per_nic.items() if not n.startswith("lo")}
        else:
            return
        totals = self._net.update(interfaces) or [0, 0]
        out["system/network_sent_mb"] = totals[0] / _MB
        out["system/network_recv_mb"] = totals[1] / _MB

    # --- GPUs -----------------------------------------------------------------------------------

    def _gpus(self, out: Sample) -> None:
        nvml = self._load_nvml()
        if not nvml:
            return
        for i in range(nvml.nvmlDeviceGetCount()):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(i)
            except nvml.NVMLError:
                continue
            for name, read in _NVML_READERS:
                try:
                    out[f"system/gpu.{i}.{name}"] = read(nvml, handle)
                except nvml.NVMLError:
                    pass  # not supported on this GPU (power on some boards, utilisation under MIG)

    def _load_nvml(self) -> Any:
        if self._nvml is None:
            self._nvml = False
            try:
                pynvml = importlib.import_module("pynvml")  # nvidia-ml-py
                pynvml.nvmlInit()
            except Exception:  # noqa: BLE001 - no package, no driver, no GPU: no GPU metrics
                return False
            self._nvml = pynvml
            for i in range(pynvml.nvmlDeviceGetCount()):
                try:
                    uuid = pynvml.nvmlDeviceGetUUID(pynvml.nvmlDeviceGetHandleByIndex(i))
                except pynvml.NVMLError:
                    continue
                self._gpu_uuids[_norm_uuid(uuid)] = i
        return self._nvml

    def _torch(self, out: Sample) -> None:
        torch = sys.modules.get("torch")
        if torch is None or not torch.cuda.is_initialized():
            return
        cuda = torch.cuda
        current = cuda.current_device()
        for d in range(cuda.device_count()):
            reserved = cuda.memory_reserved(d)
            if d != current and reserved == 0:
                continue  # a device this process does not use
            index = d
            if self._gpu_uuids:
                index = self._gpu_uuids.get(_norm_uuid(cuda.get_device_properties(d).uuid), -1)
                if index < 0:
                    continue  # NVML numbers the GPUs, and this one is not among them: no key would be right
            out[f"system/gpu.{index}.torch_allocated_mb"] = cuda.memory_allocated(d) / _MB
            out[f"system/gpu.{index}.torch_reserved_mb"] = reserved / _MB

    def _load_psutil(self) -> Any:
        if self._psutil is None:
            try:
                self._psutil = importlib.import_module("psutil")
            except ImportError:
                self._psutil = False
        return self._psutil or None


_NVML_READERS: tuple[tuple[str, Callable[[Any, Any], float]], ...] = (
    ("utilization", lambda nv, h: float(nv.nvmlDeviceGetUtilizationRates(h).gpu)),
    ("memory_used_mb", lambda nv, h: nv.nvmlDeviceGetMemoryInfo(h).used / _MB),
    ("memory_total_mb", lambda nv, h: nv.nvmlDeviceGetMemoryInfo(h).total / _MB),
    ("temperature_c", lambda nv, h: float(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU))),
    ("power_w", lambda nv, h: nv.nvmlDeviceGetPowerUsage(h) / 1000.0),  # reported in milliwatts
)


def _norm_uuid(uuid: object) -> str:
    text = uuid.decode() if isinstance(uuid, bytes) else str(uuid)
    text = text.strip().lower()
    return text[4:] if text.startswith("gpu-") else text


_probe: Probe | None = None
_probe_lock = threading.Lock()


def sample() -> Sample:
    """One sample of this host and process (keys in the module docstring).

    Uses a process-wide ``Probe``, so rates are over the time since the previous call, and the first
    call leaves them out. Never raises; what cannot be read is left out.
    """
    global _probe
    with _probe_lock:
        if _probe is None:
            _probe = Probe()
        return _probe.sample()


class SystemSampler(threading.Thread):
    """Calls ``emit(sample)`` every ``interval`` seconds until ``stop()``; a daemon, so it never holds up exit.

    The first sample is a baseline taken when the thread starts (not emitted), so each emitted one has
    every rate. Samples keep to a fixed cadence (``start + k * interval``); one that overran its slot
    skips the slots it missed. If ``emit`` raises, one line goes to stderr the first time and the thread
    goes on; the sample is lost.

    Raises:
        ValueError: ``interval`` is not a positive finite number of seconds, or ``labels["rank"]`` is
            not a non-negative integer.
    """

    def __init__(self, emit: Callable[[Sample], None], interval: float,
                 labels: Mapping[str, str] | None = None) -> None:
        if not (isinstance(interval, int | float) and math.isfinite(interval) and interval > 0):
            raise ValueError(f"SystemSampler interval must be a positive number of seconds, got {interval!r}. "
                             "Hint: an interval of 0 means 'no sampler': do not start one.")
        rank = (labels or {}).get("rank")
        if rank is not None and not str(rank).isdecimal():
            raise ValueError(f"SystemSampler labels['rank'] must be a non-negative integer, got {rank!r}.")
        super().__init__(name="tracker-system-metrics", daemon=True)
        self._emit = emit
        self._interval = float(interval)
        self._prefix = f"system/rank{int(rank)}/" if rank is not None else None
        self._stopped = threading.Event()
        self._warned = False

    def run(self) -> None:
        time.sleep(0)  # hand the GIL back to the thread that started us (init() waits for the start) first
        probe = Probe()
        try:
            probe.sample()
            start = time.monotonic()
            k = 1
            while not self._stopped.wait(max(0.0, start + k * self._interval - time.monotonic())):
                self._deliver(probe.sample())
                k = max(k + 1, math.floor((time.monotonic() - start) / self._interval) + 1)
        finally:
            probe.close()

    def _deliver(self, metrics: Sample) -> None:
        if self._prefix is not None:
            metrics = {self._prefix + key.removeprefix("system/"): value for key, value in metrics.items()}
        try:
            self._emit(metrics)
        except Exception as exc:  # noqa: BLE001 - system metrics must never stop (DESIGN principle 1)
            if not self._warned:
                self._warned = True
                print(f"tracker: system metrics could not be recorded ({exc!r}); "
                      "later failures are not reported", file=sys.stderr)

    def stop(self, timeout: float) -> None:
        """Asks the thread to end and waits up to ``timeout`` seconds for it (not when called from the thread)."""
        self._stopped.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)
