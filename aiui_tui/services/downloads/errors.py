"""Download failures as values: what happened, the fix, and whether trying again can help."""

from __future__ import annotations

from aiui_tui.core.errors import EXIT_USAGE, AiuiError, UsageError
from aiui_tui.services.downloads.auth import SourceToken
from aiui_tui.services.downloads.policy import RETRYABLE_STATUS


class DownloadError(AiuiError):
    title = "Download failed"

    def __init__(
        self,
        message: str,
        fix: str = "",
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        offline: bool = False,
        url: str | None = None,
    ) -> None:
        super().__init__(message, fix)
        self.retryable = retryable
        self.retry_after = retry_after
        self.offline = offline  # the network (not the server) failed: wait for it, do not burn retries
        self.url = url  # the address that failed, when it is not the download's own (a redirect)


class ChecksumMismatch(DownloadError):
    pass


class DiskFull(DownloadError):
    """No room for the file (or for the queue's record of it): the environment, so exit 2. The part
    is kept and the item paused: it resumes once space is freed."""

    exit_code = EXIT_USAGE


class WaitingForNetwork(DownloadError):
    """A queued item found no network: it gives its slot back and waits (pending) for another try,
    so items whose host answers run meanwhile. Its part is kept."""

    def __init__(self, host: str) -> None:
        super().__init__(
            f"No network: cannot reach {host}; waiting for it to return.",
            "nothing to do: it resumes once the network is back",
            retryable=True,
            offline=True,
        )


class BusyElsewhere(UsageError):
    """Another aiui-tui process is writing this file right now."""


class NotAModel(DownloadError):
    """The server answered 200 with an error page, or a body far from the expected file."""


def http_error(
    status: int, url: str, source: SourceToken | None, sent_token: bool, retry_after: float | None = None
) -> DownloadError:
    if status in (401, 403):
        if source is None:
            return DownloadError(
                f"The server refused access (HTTP {status}) to {url}.",
                "check that the URL is public, or download it in a browser",
            )
        name = "HuggingFace" if source.source == "huggingface" else "CivitAI"
        if sent_token:
            fix = (
                f"check the {name} token ({source.setting}); gated models also need their license accepted "
                "on the model page"
                if source.source == "huggingface"
                else f"check the {name} token ({source.setting})"
            )
            return DownloadError(f"{name} refused the token (HTTP {status}).", fix)
        return DownloadError(f"{name} needs a token for this file (HTTP {status}).", f"set it: {source.setting}")
    if status == 404:
        return DownloadError(f"Not found (HTTP 404): {url}.", "check the URL, the repository name and the revision")
    if status == 416:
        return DownloadError("The server refused the requested range (HTTP 416).", "", retryable=True)
    if status in RETRYABLE_STATUS or status >= 500:
        what = "rate-limited" if status == 429 else "failed"
        return DownloadError(
            f"The server {what} the request (HTTP {status}).",
            "it will be retried; raise downloads.retries for flaky servers",
            retryable=True,
            retry_after=retry_after,
        )
    return DownloadError(f"Unexpected answer HTTP {status} from {url}.", "check the URL")
