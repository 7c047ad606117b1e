"""Servers for the browser tests, usable outside fixtures too: the kehu app served for
real over TCP by uvicorn in a thread, and a static folder served on another origin."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import http.server
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from app.main import create_app
from app.services import close_services, create_services
from app.settings import Settings

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 20.0
SHUTDOWN_TIMEOUT = 10.0


@dataclass(frozen=True)
class LiveServer:
    url: str
    settings: Settings


def listening_socket() -> socket.socket:
    """A bound, listening socket on a free loopback port. Binding it here (rather than
    picking a port and letting the server bind it later) leaves no window for another
    process to take the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    sock.listen(128)
    return sock


class UvicornThread(threading.Thread):
    """Serves the app from the thread's own event loop. Services (the SQLAlchemy async
    engine and its asyncpg connections, the redis pool) are created and closed inside
    that loop: they are bound to the loop they are used in, which is not pytest's."""

    def __init__(self, settings: Settings, sock: socket.socket) -> None:
        super().__init__(name=f"uvicorn-e2e-{sock.getsockname()[1]}", daemon=True)
        self.settings = settings
        self.sock = sock
        self.server: uvicorn.Server | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported by stop(), not lost with the thread
            self.error = error

    async def _main(self) -> None:
        services = create_services(self.settings)
        try:
            config = uvicorn.Config(
                create_app(self.settings, services),
                lifespan="on",
                ws="none",  # no websockets here; its legacy implementation warns on import
                log_config=None,  # leave the process' logging configuration alone
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=5,
            )
            self.server = uvicorn.Server(config)
            await self.server.serve(sockets=[self.sock])
        finally:
            await close_services(services)

    def wait_healthy(self, url: str) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if not self.is_alive():
                raise RuntimeError("live server stopped during startup") from self.error
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url}/healthz did not answer within {STARTUP_TIMEOUT}s")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.join(SHUTDOWN_TIMEOUT)
        if self.is_alive() and self.server is not None:
            self.server.force_exit = True
            self.join(SHUTDOWN_TIMEOUT)
        self.sock.close()
        if self.is_alive():
            raise RuntimeError(f"{self.name} did not stop")
        if self.error is not None:
            raise RuntimeError("live server failed") from self.error


@contextlib.contextmanager
def serve_kehu(settings: Settings) -> Iterator[LiveServer]:
    """Run the kehu app on http://127.0.0.1:<free port> with `issuer` set to that URL and
    services of its own. The database must already exist."""
    sock = listening_socket()
    url = f"http://{HOST}:{sock.getsockname()[1]}"
    live_settings = dataclasses.replace(settings, issuer=url)
    thread = UvicornThread(live_settings, sock)
    thread.start()
    try:
        thread.wait_healthy(url)
        yield LiveServer(url=url, settings=live_settings)
    finally:
        thread.stop()


class QuietStaticHandler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve_static(directory: Path) -> Iterator[str]:
    """Serve `directory` on http://127.0.0.1:<free port>; yields that origin."""
    handler = functools.partial(QuietStaticHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name=f"static-e2e-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(SHUTDOWN_TIMEOUT)
        server.server_close()
