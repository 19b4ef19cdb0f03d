"""One Docker stats message (from the streaming reader) to a ContainerStats event."""

from __future__ import annotations

from typing import Any

from aiui_tui.core.events import ContainerStats


def parse_stats(name: str, container_id: str, raw: dict[str, Any], gpu_memory: int | None = None) -> ContainerStats:
    cpu, pre = raw.get("cpu_stats") or {}, raw.get("precpu_stats") or {}
    cpu_delta = _get(cpu, "cpu_usage", "total_usage") - _get(pre, "cpu_usage", "total_usage")
    system_delta = int(cpu.get("system_cpu_usage") or 0) - int(pre.get("system_cpu_usage") or 0)
    cpus = int(cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or []) or 1)
    percent = (cpu_delta / system_delta) * cpus * 100.0 if system_delta > 0 and cpu_delta > 0 else 0.0
    memory = raw.get("memory_stats") or {}
    details = memory.get("stats") or {}
    # What `docker stats` shows: usage minus the page cache (cgroup v2: inactive_file; v1: total_inactive_file).
    cache = int(details.get("inactive_file", details.get("total_inactive_file", 0)) or 0)
    used = max(0, int(memory.get("usage") or 0) - cache)
    rx = tx = 0
    for net in (raw.get("networks") or {}).values():
        rx += int(net.get("rx_bytes") or 0)
        tx += int(net.get("tx_bytes") or 0)
    read = write = 0
    for entry in (raw.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = str(entry.get("op", "")).lower()
        if op == "read":
            read += int(entry.get("value") or 0)
        elif op == "write":
            write += int(entry.get("value") or 0)
    return ContainerStats(
        name=name,
        container_id=container_id,
        cpu_percent=round(percent, 2),
        memory_used=used,
        memory_limit=int(memory.get("limit") or 0),
        net_rx=rx,
        net_tx=tx,
        block_read=read,
        block_write=write,
        gpu_memory=gpu_memory,
    )


def _get(section: dict[str, Any], *keys: str) -> int:
    value: object = section
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return int(value) if isinstance(value, int | float | str) and value else 0
