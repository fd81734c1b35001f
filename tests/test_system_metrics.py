"""The system metrics sampler: plausible values, rates and counters, the thread's cadence and resilience."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tracker_core import system
from tracker_core.system import Probe, SystemSampler

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@linux_only
def test_sample_values_are_plausible() -> None:
    probe = Probe()
    probe.sample()
    time.sleep(0.2)
    s = probe.sample()
    assert 0 <= s["system/cpu_percent"] <= 100
    assert 0 <= s["system/process_cpu_percent"] <= 100 * (os.cpu_count() or 1)
    assert 0 < s["system/memory_percent"] <= 100
    assert 0 <= s["system/disk_used_percent"] <= 100
    assert s["system/process_rss_mb"] > 1
    vm_rss_kb = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS:"))
    assert s["system/process_rss_mb"] == pytest.approx(int(vm_rss_kb.split()[1]) / 1024, rel=0.1, abs=4)
    assert all(k.startswith("system/") and isinstance(v, float | int) for k, v in s.items())
    block = b"x" * (64 << 20)  # written, so its pages are resident
    assert probe.sample()["system/process_rss_mb"] - s["system/process_rss_mb"] == pytest.approx(64, abs=8)
    del block


@linux_only
def test_rates_appear_from_the_second_sample_and_a_busy_loop_raises_process_cpu() -> None:
    probe = Probe()
    first = probe.sample()
    assert "system/cpu_percent" not in first and "system/process_cpu_percent" not in first
    time.sleep(0.3)
    idle = probe.sample()
    assert "system/cpu_percent" in idle
    started, cpu_started = time.monotonic(), time.process_time()
    while time.monotonic() < started + 0.5:
        sum(range(1000))
    busy = probe.sample()
    # what the process really used in that window (all its threads), whatever else loads the machine
    used = 100 * (time.process_time() - cpu_started) / (time.monotonic() - started)
    assert used > 30, "the busy loop hardly ran: the machine is starved"
    assert abs(busy["system/process_cpu_percent"] - used) < 25
    assert busy["system/cpu_percent"] > 0


@linux_only
def test_real_io_counters_start_at_zero_and_never_decrease(tmp_path: Path) -> None:
    probe, samples = Probe(), []
    for i in range(4):
        samples.append(probe.sample())
        with open(tmp_path / f"f{i}", "wb") as f:
            f.write(os.urandom(1 << 20))
            os.fsync(f.fileno())
    for key in ("disk_read_mb", "disk_write_mb", "network_sent_mb", "network_recv_mb"):
        values = [s.get(f"system/{key}") for s in samples]
        if values[0] is None:
            continue  # no /sys/block here, say: left out, which is allowed
        assert values[0] == 0.0
        assert all(b >= a >= 0 for a, b in itertools.pairwise(values)), (key, values)


def _fake_proc(root: Path, sent: int, recv: int, lo: int, sectors_read: int, sectors_written: int) -> None:
    (root / "net").mkdir(parents=True, exist_ok=True)
    (root / "net" / "dev").write_text(
        "Inter-|   Receive |  Transmit\n face |bytes packets ...\n"
        f"    lo: {lo} 1 0 0 0 0 0 0 {lo} 1 0 0 0 0 0 0\n"
        f"  eth0:{recv} 5 0 0 0 0 0 0 {sent} 7 0 0 0 0 0 0\n")
    (root / "diskstats").write_text(
        f" 254 0 vda 10 0 {sectors_read} 5 20 0 {sectors_written} 9 0 1 2 0 0 0 0\n"
        f" 254 1 vda1 10 0 {sectors_read} 5 20 0 {sectors_written} 9 0 1 2 0 0 0 0\n"
        " 7 0 loop0 1 0 999999 1 1 0 999999 1 0 1 2 0 0 0 0\n")


def test_counters_are_cumulative_from_the_first_sample_survive_resets_and_skip_lo_and_partitions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proc, sys_root = tmp_path / "proc", tmp_path / "sys"
    (sys_root / "block" / "vda" / "device").mkdir(parents=True)
    (sys_root / "block" / "loop0").mkdir(parents=True)  # virtual: no device/ entry
    monkeypatch.setattr(system, "PROC", str(proc))
    monkeypatch.setattr(system, "SYS", str(sys_root))
    monkeypatch.setattr(system, "_LINUX", True)
    mb = 1 << 20
    probe = Probe()
    _fake_proc(proc, sent=5 * mb, recv=7 * mb, lo=100 * mb, sectors_read=2048, sectors_written=4096)
    first = probe.sample()
    assert first["system/network_sent_mb"] == first["system/disk_write_mb"] == 0.0
    _fake_proc(proc, sent=6 * mb, recv=9 * mb, lo=300 * mb, sectors_read=4096, sectors_written=4096 + 2048 * 3)
    second = probe.sample()
    assert (second["system/network_sent_mb"], second["system/network_recv_mb"]) == (1.0, 2.0)
    assert (second["system/disk_read_mb"], second["system/disk_write_mb"]) == (1.0, 3.0)
    _fake_proc(proc, sent=mb, recv=0, lo=0, sectors_read=0, sectors_written=0)  # interface and disk counters reset
    third = probe.sample()
    assert (third["system/network_sent_mb"], third["system/network_recv_mb"]) == (2.0, 2.0)
    assert (third["system/disk_read_mb"], third["system/disk_write_mb"]) == (1.0, 3.0)


def test_missing_proc_is_survivable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system, "PROC", str(tmp_path))
    monkeypatch.setattr(system, "SYS", str(tmp_path))
    monkeypatch.setattr(system, "_LINUX", True)
    probe = Probe()
    s = [probe.sample(), probe.sample()][1]
    assert "system/disk_used_percent" in s and "system/process_cpu_percent" in s  # statvfs and os.times still work
    assert not {"system/cpu_percent", "system/memory_percent", "system/process_rss_mb",
                "system/network_sent_mb", "system/disk_read_mb"} & s.keys()


def test_without_proc_psutil_supplies_the_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("psutil")
    monkeypatch.setattr(system, "_LINUX", False)
    probe = Probe()
    probe.sample()
    time.sleep(0.1)
    s = probe.sample()
    assert 0 <= s["system/cpu_percent"] <= 100 and 0 < s["system/memory_percent"] <= 100
    assert s["system/process_rss_mb"] > 1 and s["system/network_sent_mb"] >= 0


def _collect(interval: float, seconds: float, **kwargs: object) -> tuple[list[dict[str, float | int]], float, bool]:
    got: list[dict[str, float | int]] = []
    sampler = SystemSampler(got.append, interval, **kwargs)  # type: ignore[arg-type]
    sampler.start()
    time.sleep(seconds)
    t0 = time.monotonic()
    sampler.stop(timeout=2)
    return got, time.monotonic() - t0, sampler.is_alive()


def test_sampler_emits_at_its_interval_and_stops_promptly() -> None:
    got, stop_seconds, alive = _collect(0.1, 1.0)
    assert 5 <= len(got) <= 15 and stop_seconds < 0.5 and not alive
    assert all("system/disk_used_percent" in s for s in got)
    if sys.platform.startswith("linux"):
        assert "system/cpu_percent" in got[0]  # the baseline is taken at start, not emitted


def test_an_emit_that_raises_does_not_kill_the_thread(capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[int] = []

    def emit(metrics: dict[str, float | int]) -> None:
        calls.append(1)
        if len(calls) <= 3:
            raise RuntimeError("store is full")

    sampler = SystemSampler(emit, 0.05)
    sampler.start()
    time.sleep(0.6)
    assert sampler.is_alive() and len(calls) >= 6
    sampler.stop(timeout=2)
    err = capsys.readouterr().err
    assert err.count("store is full") == 1 and err.count("\n") == 1


def test_the_sampler_is_a_daemon_and_never_delays_exit() -> None:
    assert SystemSampler(lambda m: None, 10).daemon
    code = "from tracker_core.system import SystemSampler; SystemSampler(print, 60).start(); print('bye')"
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout == "bye\n"
    assert time.monotonic() - t0 < 10  # a non-daemon thread would hold the process for its 60 s interval


def test_a_rank_label_prefixes_every_key() -> None:
    got, _, _ = _collect(0.05, 0.3, labels={"rank": "1"})
    assert got and all(k.startswith("system/rank1/") for s in got for k in s)
    assert "system/rank1/disk_used_percent" in got[0]


@pytest.mark.parametrize(("interval", "labels"), [(0, None), (-1, None), (float("nan"), None), (1, {"rank": "x"})])
def test_bad_arguments_raise_at_once(interval: float, labels: dict[str, str] | None) -> None:
    with pytest.raises(ValueError, match="SystemSampler"):
        SystemSampler(lambda m: None, interval, labels)


def test_importing_the_module_loads_no_heavy_package() -> None:
    code = "import sys, tracker_core.system; print(sorted({'psutil', 'pynvml', 'torch'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert done.stdout.strip() == "[]"


def test_gpu_metrics_when_nvml_finds_a_gpu() -> None:
    pynvml = pytest.importorskip("pynvml")
    try:
        pynvml.nvmlInit()
        assert pynvml.nvmlDeviceGetCount() > 0
    except (pynvml.NVMLError, AssertionError):
        pytest.skip("NVML finds no NVIDIA GPU")
    s = Probe().sample()
    assert 0 <= s["system/gpu.0.utilization"] <= 100
    assert 0 < s["system/gpu.0.memory_used_mb"] <= s["system/gpu.0.memory_total_mb"]
