"""End-to-end browser fixtures: headless Chromium (Debian's, driven by Playwright), the
kehu app served for real over TCP, and a static single-page app on a second origin that
talks to it cross-origin.

Chromium comes from Debian (`scripts/ensure-chromium`), never from `playwright install`.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from e2e.harness import LiveServer, serve_kehu, serve_static
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from app.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
SPA_DIR = Path(__file__).parent / "spa"

# As root in a container there is no usable sandbox; /dev/shm may be small; there is no
# GPU; first-run and default-browser prompts are noise. (Not --disable-crashpad-for-
# testing: with it, every http(s) navigation aborts with net::ERR_ABORTED.)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
]
BROWSER_EXIT_TIMEOUT = 5.0


def _proc_stat(pid: int) -> tuple[str, str, int] | None:
    """(comm, state, ppid) of a process, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    state, ppid = text[text.rindex(")") + 2 :].split()[:2]
    return comm, state, int(ppid)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _chromium_processes(config_home: str) -> set[int]:
    """This browser's processes: Chromium descendants of this process (through
    Playwright's driver), and the crashpad handlers, which double-fork away from the
    browser (children of init) but name a database under our CHROME_CONFIG_HOME."""
    parents: dict[int, int] = {}
    comms: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))) is not None:
            comms[int(entry.name)], _, parents[int(entry.name)] = stat
    found, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    found |= {pid for pid, comm in comms.items() if config_home in _cmdline(pid)}
    return {pid for pid in found if comms[pid].startswith("chrom")}


def _running(pid: int) -> bool:
    stat = _proc_stat(pid)
    return stat is not None and stat[1] != "Z" and stat[0].startswith("chrom")


def _wait_exited(pids: set[int]) -> None:
    """After browser.close(): every Chromium process it had must have exited. (Exited
    children of the browser are re-parented to init, which may take a moment to reap
    them; a zombie is not running and counts as exited.) Survivors are killed by pid,
    then reported."""
    deadline = time.monotonic() + BROWSER_EXIT_TIMEOUT
    while (survivors := {pid for pid in pids if _running(pid)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"chromium processes outlived browser.close(): {sorted(survivors)}"


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    if not CHROMIUM.exists():
        # A failure, not a skip: `make test` installs it, so its absence is a bug.
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium")
    return str(CHROMIUM)


@pytest.fixture(scope="session")
async def browser(chromium_executable: str) -> AsyncIterator[Browser]:
    # CHROME_CONFIG_HOME keeps Chromium's own state (its crash report database) out of
    # ~/.config/chromium; Playwright gives each launch a temporary profile already.
    with tempfile.TemporaryDirectory(prefix="kehu-e2e-chromium-") as config_home:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=chromium_executable,
                headless=True,
                args=CHROMIUM_ARGS,
                env={**os.environ, "CHROME_CONFIG_HOME": config_home},
            )
            try:
                yield browser
            finally:
                pids = _chromium_processes(config_home)
                await browser.close()
                _wait_exited(pids)


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh profile (cookies, storage, cache) per test."""
    context = await browser.new_context()
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


@pytest.fixture(scope="session")
def live_server(settings: Settings, database: None) -> Iterator[LiveServer]:
    """The real app on http://127.0.0.1:<free port>, `issuer` set to that URL, with its
    own services (created and closed in the server thread's event loop)."""
    with serve_kehu(settings) as server:
        yield server


@pytest.fixture(scope="session")
def spa_server() -> Iterator[str]:
    """tests/e2e/spa/ on http://127.0.0.1:<another free port>; yields that origin."""
    with serve_static(SPA_DIR) as origin:
        yield origin
