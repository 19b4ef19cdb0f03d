"""How an event reaches the screens is declared on its class (core/events), not in lists kept by the
TUI: quiet (folded into the state on the loop, no message), replaceable with its key, the status line,
the app cards."""

from __future__ import annotations

import dataclasses
import inspect

import aiui_tui.tui.app
import aiui_tui.tui.bridge
import aiui_tui.tui.screens.base
import aiui_tui.tui.screens.dashboard
from aiui_tui.core import events
from aiui_tui.core.apps import AppStatus
from aiui_tui.core.events import AppStateChanged, ContainerStats, DownloadProgress, Event, GpuSample, Notice
from aiui_tui.tui.bridge import ServiceEvent

EVENTS = [c for _n, c in inspect.getmembers(events, inspect.isclass) if issubclass(c, Event) and c is not Event]
DELIVERY = ("quiet", "replaceable", "key_field", "status_line", "app_cards")


def test_each_event_class_declares_its_delivery_and_the_lists_are_gone():
    for cls in EVENTS:
        fields = {f.name for f in dataclasses.fields(cls)}
        assert not fields & set(DELIVERY), f"{cls.__name__}: a delivery attribute became a field"
        assert all(hasattr(cls, name) for name in DELIVERY), cls.__name__
        assert cls.key_field is None or cls.key_field in fields, f"{cls.__name__}.key_field names no field"
        assert not cls.quiet or cls.replaceable, f"{cls.__name__}: a quiet event is a sample, replaceable too"
    declared = {c.__name__ for c in EVENTS if any(getattr(c, n) not in (False, None) for n in DELIVERY)}
    assert declared == {
        "DownloadProgress", "ContainerStats", "SystemSample", "GpuSample", "AppPullProgress", "FileOpProgress",
        "EngineStateChanged", "AppStateChanged", "AppRemoved",
    }  # fmt: skip
    gone = {
        aiui_tui.tui.app: "QUIET_EVENTS",
        aiui_tui.tui.bridge: "REPLACEABLE",
        aiui_tui.tui.screens.base: "STATUS_EVENTS",
        aiui_tui.tui.screens.dashboard: "CARD_EVENTS",
    }
    for module, name in gone.items():
        assert not hasattr(module, name), f"{module.__name__}.{name} is back"


def test_a_newer_event_replaces_a_queued_one_of_the_same_stream_only():
    def progress(item: str, done: int) -> ServiceEvent:
        return ServiceEvent(DownloadProgress(item, done, 100, None, None))

    assert progress("a", 2).can_replace(progress("a", 1))
    assert not progress("b", 2).can_replace(progress("a", 1))  # another download's progress stays
    stats = ContainerStats("app", "c1", 1.0, 1, 2, 0, 0, 0, 0)
    assert ServiceEvent(stats).can_replace(ServiceEvent(stats))
    assert ServiceEvent(GpuSample(True)).can_replace(ServiceEvent(GpuSample(False)))  # one stream: no key
    changed = AppStateChanged("app", AppStatus("app", "App", "ready"))
    assert not ServiceEvent(changed).can_replace(ServiceEvent(changed))  # a state change is never dropped
    assert not ServiceEvent(Notice("info", "x")).can_replace(ServiceEvent(Notice("info", "x")))
    assert DownloadProgress("a", 1, None, None, None).key == "a" and GpuSample(True).key is None
