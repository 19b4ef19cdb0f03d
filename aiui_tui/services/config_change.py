"""The one way a settings change reaches the running services: `apply_config`.

A screen or command writes config/aiui.toml (`config.set_values`), then hands the new `Config` to
`apply_config`: its sections are taken over in place (every service holds the same `Config`
object), the services that act on a change at once are told, and `ConfigChanged` is published for
the views. Nothing else assigns config sections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiui_tui.core.events import ConfigChanged

if TYPE_CHECKING:
    from aiui_tui.config import Config
    from aiui_tui.services import Services


async def apply_config(services: Services, new: Config) -> ConfigChanged:
    """Take `new` into the running services and publish which sections changed (the event is published,
    and returned, even when none did: the caller saved, the views may look again).

    Each service reads its sections as it works: apps at each app's next start, downloads now (the
    number at once: the scheduler looks again) and from the next transfer, library at the next scan.
    The Docker address and the monitor's interval are read when the services open: next start.
    """
    current = services.config
    changed = tuple(name for name in type(new).model_fields if getattr(current, name) != getattr(new, name))
    for name in changed:
        setattr(current, name, getattr(new, name))
    downloads = services.downloads
    if "downloads" in changed and downloads is not None:
        downloads.config_changed()  # a raised number at once starts waiting items now
    event = ConfigChanged(sections=changed)
    services.bus.publish(event)
    return event
