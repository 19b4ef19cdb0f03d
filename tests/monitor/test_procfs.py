"""The system sampler reads the kernel's files kept open (/proc/stat, /proc/meminfo, /proc/net/dev):
psutil's figures, read afresh every sample; psutil itself only where /proc cannot be read so."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest

from aiui_tui.bus import Bus
from aiui_tui.services.monitor import MonitorService
from aiui_tui.services.monitor.procfs import KernelFiles, parse_cpu_times, parse_meminfo, parse_net_totals
from aiui_tui.services.monitor.system import SystemSampler, cpu_split
from tests.fake_nvml import FakeNvml

GiB = 1 << 30
HZ = os.sysconf("SC_CLK_TCK")

# Copied from a 2-core machine's /proc (kernel 6.18), with guest time and swap added where it had none.
STAT = """cpu  {a} 0 {b} 1000 100 0 20 10 {g} 0
cpu0 {a} 0 {b} 500 50 0 10 5 {g} 0
cpu1 100 0 50 500 50 0 10 5 0 0
intr 45711828 0 0 0 0 3 3 11 0 4
ctxt 178302751
btime 1764741600
processes 301234
procs_running 2
procs_blocked 0
softirq 29035880 5 9044813 12 2110373 0 0 10355 9779447 0 8045875
"""
MEMINFO = """MemTotal:       16777216 kB
MemFree:         4194304 kB
MemAvailable:   {available} kB
Buffers:          147792 kB
Cached:           990044 kB
SwapCached:            0 kB
Active:           507788 kB
SwapTotal:       2097152 kB
SwapFree:        1572864 kB
Zswap:                 0 kB
"""
NET_DEV = (
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast"
    "|bytes    packets errs drop fifo colls carrier compressed\n"
    "    lo: {lo} 15674484    0    0    0     0          0         0"
    " {lo} 15674484    0    0    0     0       0          0\n"
    "  eth0: {rx}   67886    0    0    0     0          0         0"
    "  {tx}   42859    0    0    0     0       0          0\n"
)


def fake_proc(tmp_path, *, a=100, b=50, g=0, available="10485760", lo=1000, rx=2000, tx=500):
    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True, exist_ok=True)
    # Written in place (the same file): the sampler keeps it open and reads it again from the start.
    (proc / "stat").write_text(STAT.format(a=a, b=b, g=g))
    (proc / "meminfo").write_text(MEMINFO.format(available=available))
    (proc / "net" / "dev").write_text(NET_DEV.format(lo=lo, rx=rx, tx=tx))
    return proc


def test_the_figures_from_the_kernel_text_and_read_again_from_the_same_files(tmp_path):
    proc = fake_proc(tmp_path)
    sampler = SystemSampler({"models": tmp_path}, proc=str(proc))
    try:
        assert sampler.reads_kernel_files
        first = sampler.sample()
        assert first.cpu_per_core == (0.0, 0.0)  # nothing happened since the first reading
        assert first.memory_total == 16 * GiB and first.memory_used == 6 * GiB  # total - MemAvailable
        assert first.swap_total == 2 * GiB and first.swap_used == GiB // 2
        assert first.disks[0].label == "models" and first.disks[0].total > 0
        # cpu0: 60 more user ticks of which 20 guest (counted in user already), 20 system, 100 idle.
        fake_proc(tmp_path, a=160, b=70, g=20, lo=1300, rx=5000, tx=1500)
        second = sampler.sample()
        # all: (160+70+500+50+10+5) - (100+50+500+50+10+5) = 80 ... idle unchanged: 100% busy
        assert second.cpu_per_core == (100.0, 0.0) and second.cpu_percent == 50.0
        # lo counted as psutil counts it: received 300 + 3000, sent 300 + 1000
        assert second.net_rx_rate > 0 and second.net_rx_rate / second.net_tx_rate == pytest.approx(3300 / 1300)
    finally:
        sampler.close()


def test_cpu_times_count_idle_and_iowait_as_idle_and_guest_time_once():
    text = b"cpu  9 9 9 9 9 9 9 9 9 9\ncpu0 130 1 50 530 40 2 10 5 30 3\ncpu1 4 0 3 2\nintr 1 2\n"
    # all: user nice system idle iowait irq softirq steal (guest and guest_nice are inside user and nice)
    assert parse_cpu_times(text) == ((130 + 1 + 50 + 530 + 40 + 2 + 10 + 5, 530 + 40), (9, 2))  # cpu1: an old kernel


def test_memory_as_psutil_and_free_show_it_where_meminfo_is_odd(tmp_path):
    sampler = SystemSampler({}, proc=str(fake_proc(tmp_path, available="33554432")))  # more than MemTotal
    try:
        stats = sampler.sample()
        assert stats.memory_used == 16 * GiB - 4 * GiB  # as psutil: total - MemFree in a distorted container
    finally:
        sampler.close()
    text = MEMINFO.format(available="0")  # a kernel before 3.14 has none; some say 0: psutil estimates
    assert parse_meminfo(text.encode())[2] == 0
    sampler = SystemSampler({}, proc=str(fake_proc(tmp_path, available="0")))
    try:
        stats = sampler.sample()
        assert stats.memory_total == psutil.virtual_memory().total  # psutil's estimate, of this machine
    finally:
        sampler.close()


def loopback_transfer(size: int) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server, socket.create_connection(server.getsockname()) as client:
        peer, _ = server.accept()
        with peer:
            sender = threading.Thread(target=client.sendall, args=(b"x" * size,))
            sender.start()
            got = 0
            while got < size:
                got += len(peer.recv(1 << 20))
            sender.join()


def test_the_kernel_files_read_afresh_give_psutils_figures():
    files = KernelFiles.open()
    assert files is not None
    try:
        before = psutil.cpu_times(percpu=True), psutil.net_io_counters()
        cores, memory, (rx, tx) = files.read()
        after = psutil.cpu_times(percpu=True), psutil.net_io_counters()
        assert len(cores) == len(before[0]) == psutil.cpu_count()
        for (total, idle), early, late in zip(cores, before[0], after[0], strict=True):
            assert cpu_split(early)[0] * HZ - 1 <= total <= cpu_split(late)[0] * HZ + 1
            assert cpu_split(early)[1] * HZ - 1 <= idle <= cpu_split(late)[1] * HZ + 1
        assert before[1].bytes_recv <= rx <= after[1].bytes_recv and before[1].bytes_sent <= tx <= after[1].bytes_sent
        assert memory[0] == psutil.virtual_memory().total and memory[3] == psutil.swap_memory().total
        # The same descriptors read again see what happened meanwhile (the kernel writes the text afresh).
        loopback_transfer(4 << 20)
        _, _, (rx2, tx2) = files.read()
        assert rx2 - rx >= 4 << 20 and tx2 - tx >= 4 << 20
        deadline = time.monotonic() + 10
        while files.read()[0][0][0] == cores[0][0]:  # the clock ticks on: CPU time goes by
            assert time.monotonic() < deadline
    finally:
        files.close()
    with pytest.raises(OSError):
        files.read()


def test_without_the_kernel_files_psutil_samples(tmp_path):
    sampler = SystemSampler({"models": tmp_path}, proc=str(tmp_path / "no-proc"))
    assert not sampler.reads_kernel_files
    stats = sampler.sample()
    assert len(stats.cpu_per_core) == psutil.cpu_count() and stats.memory_total == psutil.virtual_memory().total
    kept = SystemSampler({"models": tmp_path})
    try:
        same = kept.sample()
        assert kept.reads_kernel_files and same.memory_total == stats.memory_total
        assert same.swap_total == stats.swap_total and same.disks[0].total == stats.disks[0].total
        assert abs(same.disks[0].free - psutil.disk_usage(str(tmp_path)).free) < 256 << 20  # others write meanwhile
    finally:
        kept.close()


def net_totals_of(text: str) -> tuple[int, int]:
    return parse_net_totals(text.encode())


def test_network_totals_sum_every_interface_as_psutil_does():
    assert net_totals_of(NET_DEV.format(lo=7, rx=2000, tx=500)) == (2007, 507)


def open_fds() -> int:
    gc.collect()  # garbage left by earlier tests that holds descriptors is closed now, not between two counts
    return len(os.listdir("/proc/self/fd"))


async def test_the_monitor_keeps_three_files_open_and_closes_them(tmp_path):
    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    before = open_fds()
    service = MonitorService(bus, {"models": tmp_path}, nvml=FakeNvml([]))
    assert service.system.reads_kernel_files and open_fds() == before + 3
    await service.sample_once()
    await service.close()
    assert open_fds() == before


def test_a_close_waits_for_a_read_in_flight(tmp_path):
    """The ticker's thread may be reading while the monitor closes: the descriptors are closed after it."""
    files = KernelFiles.open()
    assert files is not None
    reading, release = threading.Event(), threading.Event()
    real = os.pread
    results: list = []

    def slow_pread(fd, size, offset):
        reading.set()
        release.wait(5)
        return real(fd, size, offset)

    os.pread = slow_pread  # only this thread's first read waits: the others run as usual
    try:
        reader = threading.Thread(target=lambda: results.append(files.read()))
        reader.start()
        assert reading.wait(5)
        os.pread = real
        closer = threading.Thread(target=files.close)
        closer.start()
        closer.join(0.2)
        assert closer.is_alive()  # held back by the read
        release.set()
        reader.join(5)
        closer.join(5)
        assert results and results[0][1][0] > 0 and not closer.is_alive()
    finally:
        os.pread = real
        release.set()


def test_sampling_on_linux_imports_no_psutil():
    code = (
        "import sys; from aiui_tui.services.monitor.system import SystemSampler; s = SystemSampler({}); "
        "s.sample(); print('psutil' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_files_dropped_without_close_are_closed_and_closed_ones_never_twice():
    before = open_fds()
    sampler = SystemSampler({})
    assert open_fds() == before + 3
    del sampler  # a monitor never closed
    gc.collect()
    assert open_fds() == before
    files = KernelFiles.open()
    assert files is not None
    files.close()
    other = os.open("/proc/self/stat", os.O_RDONLY)  # likely one of the numbers just freed
    try:
        del files
        gc.collect()
        os.fstat(other)  # still open: the closed files did not close their numbers again
    finally:
        os.close(other)
