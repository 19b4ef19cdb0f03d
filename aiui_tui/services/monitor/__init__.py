"""System and GPU monitoring (psutil, NVML behind one narrow interface)."""

from aiui_tui.services.monitor.service import MonitorService

__all__ = ["MonitorService"]
