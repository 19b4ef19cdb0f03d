"""Files in the other UIs' own formats, written the way their own code parses them.

ComfyUI's `extra_model_paths.yaml` is read with `yaml.safe_load` (utils/extra_config.py): it is
written by PyYAML too, so a path holding `#`, `: `, quotes or non-ASCII comes back unchanged.
Used by config mode (a section in a native install's file) and by apps (the file a container's
ComfyUI reads).
"""

from __future__ import annotations

COMFYUI_SECTION = "aiui_tui"  # our section's name in extra_model_paths.yaml


def comfyui_section(folders: dict[str, str], name: str = COMFYUI_SECTION) -> str:
    """One section of extra_model_paths.yaml: ComfyUI folder name -> absolute path, no base_path
    (ComfyUI runs os.path.expandvars on base_path, which would rewrite a `$` in a folder name)."""
    import yaml

    return yaml.safe_dump({name: folders}, sort_keys=False, allow_unicode=True, width=1 << 30)
