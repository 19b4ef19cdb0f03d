"""System checks shared by `aiui-tui doctor` and the setup wizard.

Each check returns a `CheckResult` (ok / warn / fail, a one-line detail, a fix). Checks never
raise: an unexpected error becomes a failed check and is logged. Blocking probes run in threads.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from aiui_tui.config import Config
from aiui_tui.core.errors import AiuiError
from aiui_tui.core.format import human_bytes
from aiui_tui.logs import get_logger
from aiui_tui.paths import Layout, existing_parent, layout_problems

log = get_logger(__name__)
Status = Literal["ok", "warn", "fail"]
GIB = 1024**3
DISK_FAIL_BYTES = 8 * GIB  # less than one SDXL checkpoint and its VAE
DISK_WARN_BYTES = 50 * GIB
CDI_DIRS = ("/etc/cdi", "/var/run/cdi")


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class DoctorContext:
    layout: Layout
    config: Config
    env: Mapping[str, str]
    # Injected at the boundaries tests cannot provide for real (an NVIDIA driver).
    nvml: object | None = None
    # The command that creates a missing data root, as the user would type it.
    init_command: str = "aiui-tui init"


def check_python(_ctx: DoctorContext) -> CheckResult:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info >= (3, 10):  # noqa: UP036 - reports on the interpreter actually running
        return CheckResult("python", "ok", f"Python {version}")
    return CheckResult("python", "fail", f"Python {version} is too old", "install Python 3.10 or newer")


def check_data_root(ctx: DoctorContext) -> list[CheckResult]:
    """One result per problem found (every one, not the first), or one ok / not-yet-created line."""
    problems = layout_problems(ctx.layout)
    if problems:
        return [CheckResult("data root", "fail", p.message, p.fix) for p in problems]
    if not os.path.lexists(ctx.layout.root):
        return [
            CheckResult("data root", "warn", f"{ctx.layout.root} does not exist yet", f"create it: {ctx.init_command}")
        ]
    return [CheckResult("data root", "ok", f"{ctx.layout.root}: every folder writable")]


def check_disk(ctx: DoctorContext) -> CheckResult:
    target = existing_parent(ctx.layout.models_dir)
    free = shutil.disk_usage(target).free
    detail = f"{human_bytes(free)} free in {target}"
    if free < DISK_FAIL_BYTES:
        return CheckResult(
            "disk",
            "fail",
            detail + " (one SDXL checkpoint is 6.5 GiB)",
            "free some space, or move the data root to a larger disk (--root / AIUI_ROOT)",
        )
    if free < DISK_WARN_BYTES:
        return CheckResult(
            "disk",
            "warn",
            detail + " (enough for a few models)",
            f"keep {human_bytes(DISK_WARN_BYTES)} free for a comfortable model library",
        )
    return CheckResult("disk", "ok", detail)


def check_docker(ctx: DoctorContext) -> list[CheckResult]:
    """Engine reachable and recent enough, then the NVIDIA runtime registered in it."""
    from aiui_tui.services import engine  # the docker SDK loads only when a check needs it

    address = engine.engine_address(ctx.config.docker, ctx.env)
    try:
        client = engine.connect(ctx.config.docker, ctx.env, timeout=10)
    except Exception as exc:
        problem = exc if isinstance(exc, AiuiError) else engine.engine_problem(address, exc)
        return [
            CheckResult("docker", "fail", problem.message, problem.fix),
            CheckResult(
                "nvidia runtime",
                "warn",
                "not checked: the Docker engine is not reachable",
                "fix the Docker engine first",
            ),
        ]
    try:
        version = client.version()
        info = client.info()
        from aiui_tui.services.apps.network import bridge_check

        bridge = CheckResult("docker network", *bridge_check(client, ctx.layout, ctx.config))
    finally:
        client.close()
    engine_version = version.get("Version", "?")
    if engine.version_tuple(engine_version) < engine.MIN_ENGINE_VERSION:
        docker_result = CheckResult(
            "docker",
            "fail",
            f"engine {engine_version} at {address} is too old (need 20.10+)",
            "upgrade Docker: https://docs.docker.com/engine/install/",
        )
    else:
        docker_result = CheckResult("docker", "ok", f"engine {engine_version} at {address}")
    if engine.has_nvidia_runtime(info) or _local_cdi_nvidia(address):
        runtime = CheckResult("nvidia runtime", "ok", "NVIDIA Container Toolkit registered with the engine")
    else:
        runtimes = ", ".join(sorted(info.get("Runtimes") or {})) or "none"
        runtime = CheckResult(
            "nvidia runtime",
            "warn",
            f"no NVIDIA runtime in the engine (runtimes: {runtimes}); containers cannot use a GPU",
            "install the NVIDIA Container Toolkit, then `sudo nvidia-ctk runtime configure --runtime=docker`"
            " and restart Docker",
        )
    return [docker_result, runtime, bridge]


def _local_cdi_nvidia(address: str) -> bool:
    if not address.startswith("unix://"):
        return False
    for folder in CDI_DIRS:
        for spec in Path(folder).glob("*.*") if Path(folder).is_dir() else ():
            try:
                if "nvidia.com/gpu" in spec.read_text(errors="ignore"):
                    return True
            except OSError:
                continue
    return False


def check_gpu(ctx: DoctorContext) -> CheckResult:
    from aiui_tui.services.monitor.nvml import probe_gpus

    probe = probe_gpus(ctx.nvml)
    if not probe.available:
        return CheckResult("gpu", "warn", probe.reason, probe.fix)
    if not probe.gpus:
        return CheckResult(
            "gpu",
            "warn",
            f"NVIDIA driver {probe.driver_version} sees no GPU",
            "check `nvidia-smi` and that the GPU is seated and powered",
        )
    from aiui_tui.services.apps.recommend import recommend

    names = "; ".join(f"{g.index}: {g.name} ({human_bytes(g.memory_total)})" for g in probe.gpus)
    advice = recommend(probe.gpus)
    return CheckResult(
        "gpu", "ok", f"driver {probe.driver_version}, {names}; suggested profile {advice.profile} ({advice.why()})"
    )


async def check_network(ctx: DoctorContext) -> list[CheckResult]:
    import aiohttp

    sites = {"huggingface": ctx.config.sources.huggingface_url, "civitai": ctx.config.sources.civitai_url}
    timeout = aiohttp.ClientTimeout(total=ctx.config.network.check_timeout_s)
    proxy = ctx.config.network.proxy or None

    async def reach(name: str, url: str, session: aiohttp.ClientSession) -> CheckResult:
        try:
            async with session.head(url, allow_redirects=False, proxy=proxy) as response:
                return CheckResult(f"network: {name}", "ok", f"{url} answered HTTP {response.status}")
        except Exception as exc:
            reason = "timed out" if isinstance(exc, asyncio.TimeoutError) else (str(exc) or type(exc).__name__)
            return CheckResult(
                f"network: {name}",
                "warn",
                f"{url} not reachable ({reason.splitlines()[0][:120]})",
                "downloads and search need the internet: check the connection, or set network.proxy",
            )

    async with aiohttp.ClientSession(timeout=timeout, trust_env=True) as session:
        return list(await asyncio.gather(*(reach(n, u, session) for n, u in sites.items())))


async def run_checks(ctx: DoctorContext) -> list[CheckResult]:
    """All checks, the blocking ones in threads, concurrently; results in a fixed order."""

    async def guarded(name: str, job: Callable[[], Awaitable[CheckResult | list[CheckResult]]]) -> list[CheckResult]:
        try:
            result = await job()
        except Exception as exc:
            log.exception("doctor check crashed", check=name)
            return [CheckResult(name, "fail", f"check failed unexpectedly: {exc}", "see logs/aiui.log")]
        return result if isinstance(result, list) else [result]

    jobs: list[tuple[str, Callable[[], Awaitable[CheckResult | list[CheckResult]]]]] = [
        ("python", lambda: asyncio.to_thread(check_python, ctx)),
        ("data root", lambda: asyncio.to_thread(check_data_root, ctx)),
        ("disk", lambda: asyncio.to_thread(check_disk, ctx)),
        ("docker", lambda: asyncio.to_thread(check_docker, ctx)),
        ("gpu", lambda: asyncio.to_thread(check_gpu, ctx)),
        ("network", lambda: check_network(ctx)),
    ]
    groups = await asyncio.gather(*(guarded(name, job) for name, job in jobs))
    results = [r for group in groups for r in group]
    for r in results:
        log.info("doctor check", check=r.name, status=r.status, detail=r.detail)
    return results


def context_from_env(layout: Layout, config: Config, *, init_command: str = "aiui-tui init") -> DoctorContext:
    return DoctorContext(layout=layout, config=config, env=dict(os.environ), init_command=init_command)
