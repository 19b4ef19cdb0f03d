"""The key footer: what fits of this screen's keys, and always `? Help` and `q Quit`.

Textual's footer shows the screen's keys, then the app's, and cuts at the right edge: on an
80-column terminal (and at 140 on the dashboard) "? Help" and "q Quit" were the first to go. This
one fits the keys to the width instead: everything at full size when it fits, else compact
(no padding), then without the screens' number keys, then without the screen's last keys. Help and
Quit always stay; `?` lists every key, whatever the footer left out.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # pinned textual 8.2: the footer's own key widget

PINNED = ("help", "quit")  # the app's actions that are always shown


class KeysFooter(Footer):
    def _fits(self, keys: list[tuple[Binding, bool, str]], compact: bool) -> int:
        """Cells `keys` take (see FooterKey's and Footer's CSS for the paddings and margins)."""
        total = 0
        for binding, _enabled, _tooltip in keys:
            key = cell_len(self.app.get_key_display(binding))
            text = cell_len(binding.description)
            if compact:
                total += key + (1 + text if text else 0) + 1  # key, space, description, margin
            else:
                total += 1 + key + 1 + (text + 1 if text else 0)
        return total

    def choose(self, width: int) -> tuple[bool, list[tuple[Binding, bool, str]]]:
        """(compact, the keys to show, in order) for a footer `width` cells wide."""
        screen_keys, mode_keys, pinned = [], [], []
        seen: set[str] = set()
        for node, binding, enabled, tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue  # one key per action, like Textual's footer
            seen.add(binding.action)
            if node is self.app and binding.action in PINNED:
                pinned.append((binding, enabled, tooltip))
            elif node is self.app:
                mode_keys.append((binding, enabled, tooltip))
            else:
                screen_keys.append((binding, enabled, tooltip))
        room = width
        palette = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        if palette is not None and self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            room -= self._fits([(palette.binding, True, "")], False) + 2  # its right padding, the separator
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

    def _modes_in_one(self, mode_keys: list[tuple[Binding, bool, str]]) -> list[tuple[Binding, bool, str]]:
        """The screens' number keys as one item, "1-5 Screens" (a click opens the first)."""
        numbered = [b for b, _e, _t in mode_keys if b.action.startswith("switch_mode")]
        if len(numbered) < 2:
            return []
        first, last = numbered[0], numbered[-1]
        joined = Binding(first.key, first.action, "Screens", key_display=f"{first.key}-{last.key}")
        return [(joined, True, "Number keys switch screens")]

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        compact, keys = self.choose(self.app.size.width)
        self.set_reactive(Footer.compact, compact)
        self.set_class(compact, "-compact")
        yield from self._keys(keys)
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            active = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
            if active is not None:
                binding = active.binding
                yield FooterKey(
                    binding.key,
                    self.app.get_key_display(binding),
                    binding.description,
                    binding.action,
                    classes="-command-palette",
                    disabled=not active.enabled,
                    tooltip=binding.tooltip or binding.description,
                )

    def _keys(self, keys: Iterable[tuple[Binding, bool, str]]) -> Iterable[FooterKey]:
        for binding, enabled, tooltip in keys:
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip,
            ).data_bind(compact=Footer.compact)

    def on_resize(self) -> None:
        if self._bindings_ready:
            self.call_after_refresh(self.recompose)
