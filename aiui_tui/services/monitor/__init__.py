"""System and GPU monitoring: the kernel's files kept open (psutil where they cannot be read so), NVML behind
one narrow interface."""

from aiui_tui.services.monitor.service import MonitorService

__all__ = ["MonitorService"]
