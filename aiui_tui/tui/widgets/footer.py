"""The key footer: what fits of this screen's keys, and always `? Help` and `q Quit`.

Textual's footer shows the screen's keys, then the app's, and cuts at the right edge: on an
80-column terminal (and at 140 on the dashboard) "? Help" and "q Quit" were the first to go. This
one fits the keys to the width instead: everything at full size when it fits, else compact
(no padding), then without the screens' number keys, then without the screen's last keys. Help and
Quit always stay; `?` lists every key, whatever the footer left out.

It is one widget drawing one line (Textual's footer mounts a widget per key, recomposed whenever
the bindings change: ~15 widgets, a third of the dashboard's start-up over a bare app). It looks
like Textual's footer (the same theme variables and paddings); a click on a key presses it, a
hovered key is highlighted and shows its tooltip.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widget import Widget

PINNED = ("help", "quit")  # the app's actions that are always shown
SEPARATOR = "▏"  # Textual's footer: a `vkey` left border before the command palette's key


class Key(NamedTuple):
    binding: Binding
    enabled: bool
    tooltip: str


class _Spot(NamedTuple):
    """Where a drawn key is: cells [start, end) of the line."""

    start: int
    end: int
    key: Key


class KeysFooter(Widget, can_focus=False):
    ALLOW_SELECT = False
    COMPONENT_CLASSES = {
        "keys-footer--key",
        "keys-footer--description",
        "keys-footer--item",
        "keys-footer--hover",
        "keys-footer--separator",
    }
    DEFAULT_CSS = """
    KeysFooter {
        dock: bottom;
        height: 1;
        width: 1fr;
        color: $footer-foreground;
        background: $footer-background;
        .keys-footer--item { background: $footer-item-background; }
        .keys-footer--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .keys-footer--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        .keys-footer--hover { color: $footer-key-foreground; background: $block-hover-background; }
        .keys-footer--separator { color: $foreground 20%; }
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._spots: list[_Spot] = []
        self._hover: int | None = None  # index into _spots
        self._cache: tuple[tuple, Text] | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen: object) -> None:
        self.refresh()

    # -- what to show ------------------------------------------------------------------------------
    def _fits(self, keys: list[Key], compact: bool) -> int:
        """Cells `keys` take (the paddings and margins of Textual's FooterKey and Footer)."""
        total = 0
        for binding, _enabled, _tooltip in keys:
            key = cell_len(self.app.get_key_display(binding))
            text = cell_len(binding.description)
            if compact:
                total += key + (1 + text if text else 0) + 1  # key, space, description, margin
            else:
                total += 1 + key + 1 + (text + 1 if text else 0)
        return total

    def _palette(self) -> Key | None:
        if not self.app.ENABLE_COMMAND_PALETTE:
            return None
        active = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        if active is None:
            return None
        binding = active.binding
        return Key(binding, active.enabled, binding.tooltip or binding.description)

    def choose(self, width: int) -> tuple[bool, list[Key]]:
        """(compact, the keys to show, in order) for a footer `width` cells wide."""
        screen_keys: list[Key] = []
        mode_keys: list[Key] = []
        pinned: list[Key] = []
        seen: set[str] = set()
        for node, binding, enabled, tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue  # one key per action, like Textual's footer
            seen.add(binding.action)
            key = Key(binding, enabled, tooltip)
            if node is self.app and binding.action in PINNED:
                pinned.append(key)
            elif node is self.app:
                mode_keys.append(key)
            else:
                screen_keys.append(key)
        room = width
        palette = self._palette()
        if palette is not None:
            room -= self._fits([palette], False) + 2  # its right padding, the separator
        for compact in (False, True):
            if self._fits(screen_keys + mode_keys + pinned, compact) <= room:
                return compact, screen_keys + mode_keys + pinned
        modes = self._modes_in_one(mode_keys)
        if modes and self._fits(screen_keys + modes + pinned, True) <= room:
            return True, screen_keys + modes + pinned
        keep = list(screen_keys)
        while keep and self._fits(keep + pinned, True) > room:
            keep.pop()
        return True, keep + pinned

    def _modes_in_one(self, mode_keys: list[Key]) -> list[Key]:
        """The screens' number keys as one item, "1-5 Screens" (a click opens the first)."""
        numbered = [k.binding for k in mode_keys if k.binding.action.startswith("switch_mode")]
        if len(numbered) < 2:
            return []
        first, last = numbered[0], numbered[-1]
        joined = Binding(first.key, first.action, "Screens", key_display=f"{first.key}-{last.key}")
        return [Key(joined, True, "Number keys switch screens")]

    # -- drawing -----------------------------------------------------------------------------------
    def render(self) -> Text:
        width = self.size.width
        compact, keys = self.choose(width)
        palette = self._palette()
        signature = (width, compact, tuple(keys), palette, self._hover, self.app.theme)
        if self._cache is not None and self._cache[0] == signature:
            return self._cache[1]
        styles = {
            name: self.get_component_rich_style(f"keys-footer--{name}")
            for name in ("key", "description", "item", "hover", "separator")
        }
        line = Text(no_wrap=True, overflow="crop", end="")
        spots: list[_Spot] = []
        for key in keys:
            start = line.cell_len
            line.append_text(self._item(key, compact, styles, hovered=len(spots) == self._hover))
            spots.append(_Spot(start, line.cell_len, key))
            if compact:
                line.append(" ")  # FooterKey's right margin in a compact footer
        if palette is not None:
            # Drawn compact whatever the footer's size, then one cell (its padding, or margin), as Textual's.
            item = self._item(palette, True, styles, hovered=len(spots) == self._hover)
            tail = 1
            start = width - tail - item.cell_len
            if start - 1 > line.cell_len:
                line.append(" " * (start - 1 - line.cell_len))
                line.append(SEPARATOR, styles["separator"])
                line.append_text(item)
                spots.append(_Spot(start, start + item.cell_len, palette))
        line.truncate(width, pad=True)
        self._spots = spots
        self._cache = (signature, line)
        return line

    def _item(self, key: Key, compact: bool, styles: dict[str, Style], hovered: bool) -> Text:
        """One key as Textual's FooterKey draws it: ' k ' and 'Description ' (compact: 'k' and ' Description')."""
        binding = key.binding
        shown = self.app.get_key_display(binding)
        base = styles["item"] + (styles["hover"] if hovered else Style())
        text = Text.assemble(
            (shown if compact else f" {shown} ", styles["key"]),
            *(((f" {binding.description}" if compact else f"{binding.description} ", styles["description"]),)
              if binding.description else ()),
            end="",
        )  # fmt: skip
        if hovered:
            text.stylize(Style(bgcolor=styles["hover"].bgcolor))
        text.stylize_before(base + (Style(dim=True) if not key.enabled else Style()))
        return text

    # -- mouse -------------------------------------------------------------------------------------
    def _spot_at(self, x: int) -> int | None:
        return next((i for i, spot in enumerate(self._spots) if spot.start <= x < spot.end), None)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        hover = self._spot_at(event.x)
        if hover != self._hover:
            self._hover = hover
            self.tooltip = self._spots[hover].key.tooltip or None if hover is not None else None
            self.refresh()

    def on_leave(self, _event: events.Leave) -> None:
        if self._hover is not None:
            self._hover = None
            self.tooltip = None
            self.refresh()

    def on_click(self, event: events.Click) -> None:
        index = self._spot_at(event.x)
        if index is None:
            return
        event.stop()
        key = self._spots[index].key
        if key.enabled:
            self.app.simulate_key(key.binding.key.split(",")[0])
        else:
            self.app.bell()

    def on_resize(self) -> None:
        self.refresh()
