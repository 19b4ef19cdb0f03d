"""From a manifest, the config and this machine to the container to create: pure, so it is easy to check.

Security defaults live here: ports published on the configured bind address (127.0.0.1 unless the
user says otherwise), labels that mark the containers as ours, and the invoking uid:gid so files
written into the data root belong to the user, not root.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiui_tui.config import Config
from aiui_tui.kinds import model_kinds
from aiui_tui.paths import Layout
from aiui_tui.services.apps.errors import AppError
from aiui_tui.services.apps.manifest import AppManifest
from aiui_tui.uiformats import comfyui_section

LABEL_APP = "aiui.app"
LABEL_ROOT = "aiui.root"
LABEL_INSTANCE_OF = "aiui.instance-of"  # one instance per GPU: the app it runs
LABEL_GPU = "aiui.gpu"
LOCAL_BIND = "127.0.0.1"


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    command: list[str] | None
    environment: dict[str, str]
    labels: dict[str, str]
    ports: dict[str, tuple[str, int]]  # "7865/tcp" -> (host ip, host port)
    volumes: dict[str, dict[str, str]]  # host path -> {"bind": path, "mode": "rw"|"ro"}
    network_mode: str | None
    user: str | None
    gpu: bool
    profile: str
    url: str
    warnings: list[str] = field(default_factory=list)
    gpu_ids: tuple[str, ...] | None = None  # None: every GPU; else only these (one instance per GPU)
    options: dict[str, str] = field(default_factory=dict)  # performance options in effect
    settings: dict[str, Any] = field(default_factory=dict)  # merged into settings_file before the start
    settings_file: str | None = None
    outputs_dir: str | None = None
    working_dir: str | None = None
    files: dict[str, str] = field(default_factory=dict)  # host path -> text written before each start

    def folders_to_make(self) -> list[str]:
        """Host folders to create before the container: each mount's source, and the mount points of
        mounts nested inside another mount (Docker would create those itself, owned by root)."""
        folders = list(self.volumes)
        binds = [(m["bind"].rstrip("/"), host) for host, m in self.volumes.items()]
        for inner, _ in binds:
            outer = max(
                ((bind, host) for bind, host in binds if inner.startswith(bind + "/")),
                key=lambda pair: len(pair[0]),
                default=None,
            )
            if outer is not None:
                folders.append(str(Path(outer[1]) / inner[len(outer[0]) + 1 :]))
        return folders

    def create_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `client.containers.create` (docker SDK)."""
        kwargs: dict[str, Any] = {
            "image": self.image,
            "name": self.name,
            "command": self.command,
            "environment": self.environment,
            "labels": self.labels,
            "volumes": self.volumes,
            "detach": True,
            "init": True,  # PID 1 that forwards SIGTERM: Python UIs as PID 1 ignore it, stops took 20 s
            "restart_policy": {"Name": "no"},
        }
        if self.network_mode:
            kwargs["network_mode"] = self.network_mode
        else:
            kwargs["ports"] = self.ports
        if self.user:
            kwargs["user"] = self.user
        if self.working_dir:
            kwargs["working_dir"] = self.working_dir
        if self.gpu:
            import docker.types

            if self.gpu_ids:
                request = docker.types.DeviceRequest(device_ids=list(self.gpu_ids), capabilities=[["gpu"]])
            else:
                request = docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])
            kwargs["device_requests"] = [request]
        return kwargs


def container_name(app: str, root: Path) -> str:
    """One container per app and data root; two roots on one engine do not collide."""
    return f"aiui-{app}-{hashlib.sha256(str(root).encode()).hexdigest()[:6]}"


def effective_image(manifest: AppManifest, config: Config, base: str | None = None) -> str:
    """The manifest's image unless `apps.overrides.NAME.image` replaces it (`base`: for GPU instances)."""
    override = config.apps.overrides.get(base or manifest.name)
    return (override.image if override and override.image else None) or manifest.image


def resolve_profile(requested: str, gpu_memory: int | None) -> str:
    """`auto` picks from the largest GPU's memory; no GPU means `cpu`."""
    if requested != "auto":
        return requested
    if gpu_memory is None:
        return "cpu"
    gib = gpu_memory / 1024**3
    return "low" if gib < 7 else "normal" if gib < 15 else "high"


def build_spec(
    manifest: AppManifest,
    *,
    layout: Layout,
    config: Config,
    profile: str,
    gpu_available: bool,
    uid: int,
    gid: int,
    link_folders: list[str] | None = None,
    link_warnings: list[str] | None = None,
    instance_of: str | None = None,
    gpu_index: int | None = None,
    image_cmd: list[str] | None = None,
) -> ContainerSpec:
    """`link_folders`: folders outside the root that library symlinks point into; mounted read-only
    at their own path so the links resolve inside the container. `instance_of`/`gpu_index`: an
    instance of that app pinned to one GPU (see manifest.gpu_instance); it shares the app's
    overrides and config folder and writes into outputs/APP/gpuN. `image_cmd`: the image's own
    CMD (docker inspect), which arguments follow when the manifest says args_to = "image-command";
    unknown (None) before the image is pulled, when the spec then keeps the image's CMD as it is."""
    base = instance_of or manifest.name
    override = config.apps.overrides.get(base)
    image = effective_image(manifest, config, base)
    host_port = manifest.published_port
    if override and override.host_port and manifest.network != "host":
        host_port = override.host_port + (gpu_index or 0)
    bind = config.network.bind_address
    warnings: list[str] = list(link_warnings or [])
    if bind != LOCAL_BIND:
        warnings.append(
            f"{manifest.name} is published on {bind}:{host_port}, reachable from other machines "
            f"(network.bind_address); set it to 127.0.0.1 to keep it local"
        )
    wants_gpu = manifest.gpu != "none" and profile != "cpu"
    gpu = wants_gpu and gpu_available
    if wants_gpu and not gpu_available and manifest.gpu == "auto":
        warnings.append(f"{manifest.name} starts on the CPU: no NVIDIA runtime on this engine (very slow)")
    chosen = chosen_options(manifest, override.options if override else {}, profile, warnings)
    extra = list(manifest.profiles.get(profile, []))
    option_env: dict[str, str] = {}
    settings: dict[str, Any] = {}
    for name, value in chosen.items():
        choice = manifest.performance.options[name].choices[value]
        extra += choice.args
        option_env.update(choice.env)
        settings.update(choice.settings)
    extra += list(override.extra_args) if override else []
    host_network = manifest.network == "host"
    mounts = manifest.mounts
    config_dir = layout.app_config_dir(base)
    subs = {
        "port": str(manifest.port),
        "host_port": str(host_port),
        "bind": bind,
        # What the UI inside listens on: everything in its own network namespace (Docker publishes
        # the port on `bind`), or `bind` itself when it shares the host's network.
        "listen": bind if host_network else "0.0.0.0",
    }
    files: dict[str, str] = {}
    if mounts.model_paths and mounts.config:
        subs["model_paths"] = f"{mounts.config.rstrip('/')}/{mounts.model_paths.file}"
        files[str(config_dir / mounts.model_paths.file)] = comfyui_model_paths(mounts.models)
    environment = {key: _substitute(value, subs) for key, value in {**manifest.env, **option_env}.items()}
    arguments = [_substitute(part, subs) for part in manifest.args] + extra
    command = [_substitute(part, subs) for part in manifest.command] if manifest.command is not None else None
    where = manifest.arguments_go_to
    if where == "command":
        command = [*(command or []), *arguments] or None
    elif where == "image-command":
        if arguments:
            command = [*image_cmd, *arguments] if image_cmd is not None else None
    else:
        variable = manifest.args_env or ""
        joined = _join_for(manifest, variable, arguments)
        environment[variable] = " ".join(part for part in (environment.get(variable, ""), joined) if part)
    volumes = {
        str(layout.kind_dir(kind)): {"bind": path, "mode": "ro" if mounts.models_read_only else "rw"}
        for kind, path in mounts.models.items()
    }
    for folder in link_folders or []:
        volumes.setdefault(folder, {"bind": folder, "mode": "ro"})
    outputs = layout.app_outputs_dir(base)
    if gpu_index is not None:
        outputs = outputs / f"gpu{gpu_index}"
    if mounts.outputs:
        volumes[str(outputs)] = {"bind": mounts.outputs, "mode": "rw"}
    if mounts.config:
        volumes[str(config_dir)] = {"bind": mounts.config, "mode": "rw"}
    for sub, path in mounts.config_subdirs.items():
        volumes[str(config_dir / sub)] = {"bind": path, "mode": "rw"}
    url_host = LOCAL_BIND if bind in ("0.0.0.0", "::") else bind
    port_in_url = manifest.port if host_network else host_port
    labels = {LABEL_APP: manifest.name, LABEL_ROOT: str(layout.root), "aiui.profile": profile}
    if gpu_index is not None:
        labels.update({LABEL_INSTANCE_OF: base, LABEL_GPU: str(gpu_index)})
    return ContainerSpec(
        name=container_name(manifest.name, layout.root),
        image=image,
        command=command,
        environment=environment,
        labels=labels,
        ports={} if host_network else {f"{manifest.port}/tcp": (bind, host_port)},
        volumes=volumes,
        network_mode="host" if host_network else None,
        user=f"{uid}:{gid}" if manifest.run_as_user else None,
        gpu=gpu,
        profile=profile,
        url=f"http://{url_host}:{port_in_url}/",
        warnings=warnings,
        gpu_ids=(str(gpu_index),) if gpu and gpu_index is not None else None,
        options=chosen,
        settings=settings,
        settings_file=(
            str(layout.app_config_dir(base) / manifest.performance.settings_file)
            if settings and manifest.performance.settings_file
            else None
        ),
        outputs_dir=str(outputs),
        working_dir=manifest.workdir,
        files=files,
    )


def comfyui_model_paths(mounts: dict[str, str]) -> str:
    """ComfyUI's extra_model_paths.yaml for library kinds mounted at these container paths."""
    folders: dict[str, str] = {}
    for kind, path in mounts.items():
        if name := model_kinds()[kind].comfyui_name:
            folders[name] = path
    header = "# Written by aiui-tui before each start: the model library's folders in this container.\n"
    return header + comfyui_section(folders)


def _join_for(manifest: AppManifest, variable: str, arguments: list[str]) -> str:
    """Arguments as one variable's value, in the form the image splits it back into words."""
    if manifest.args_env_split == "shell":
        return shlex.join(arguments)
    for arg in arguments:
        if not arg or any(ch.isspace() for ch in arg):
            raise AppError(
                f"{manifest.display_title}: the argument {arg!r} is empty or contains a space, but the image "
                f"splits ${variable} at spaces, so it cannot pass it.",
                f"change it in apps.overrides.{manifest.name}.extra_args (or the manifest's args)",
            )
    return " ".join(arguments)


def chosen_options(manifest: AppManifest, wanted: dict[str, str], profile: str, warnings: list[str]) -> dict[str, str]:
    """Each performance option's value: the user's choice when valid, else the manifest's default."""
    chosen: dict[str, str] = {}
    for name in sorted(set(wanted) - set(manifest.performance.options)):
        known = ", ".join(manifest.performance.options) or "none"
        warnings.append(f"{manifest.name} has no performance option {name!r} (options: {known}); ignored")
    for name, option in manifest.performance.options.items():
        if option.gpu_only and profile == "cpu":
            continue
        value = wanted.get(name, option.default)
        if value not in option.choices:
            warnings.append(
                f"{manifest.name}: {name} = {value!r} is not one of {', '.join(option.choices)}; "
                f"using {option.default!r}"
            )
            value = option.default
        chosen[name] = value
    return chosen


def _substitute(text: str, subs: dict[str, str]) -> str:
    for key, value in subs.items():
        text = text.replace("{" + key + "}", value)
    return text
