"""Runs a real Sanic app on 127.0.0.1 and a free port in a background thread.

The Rasa runtime pins Sanic 21.12, for which no maintained test client fits our
httpx, so channel tests talk to a real server over real HTTP instead.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any, Awaitable, Callable, Optional, TypeVar

from sanic import Sanic

T = TypeVar("T")

# Several apps start and stop in one test process: test mode keeps Sanic's
# start-up code rewriting ("touchup") repeatable and its app registry lenient.
Sanic.test_mode = True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveSanic:
    """`with LiveSanic(app) as server:` → `server.url`; stops the loop and server on exit."""

    def __init__(self, app: Sanic) -> None:
        self.app = app
        self.port = free_port()
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._ready = threading.Event()
        self._stop: Optional[asyncio.Event] = None
        self._error: Optional[BaseException] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "LiveSanic":
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("Sanic did not start within 15 s")
        if self._error is not None:
            raise RuntimeError("Sanic failed to start") from self._error
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(15)

    def call(self, factory: Callable[[], Awaitable[T]], timeout: float = 15.0) -> T:
        """Run a coroutine on the server's loop (e.g. to await background work)."""
        if self.loop is None:
            raise RuntimeError("server not running")
        return asyncio.run_coroutine_threadsafe(_await(factory), self.loop).result(timeout)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as error:  # reported to the test thread, not swallowed
            self._error = error
            self._ready.set()
        finally:
            pending = [task for task in asyncio.all_tasks(self.loop) if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = await self.app.create_server(
            host="127.0.0.1", port=self.port, return_asyncio_server=True, access_log=False
        )
        if server is None:
            raise RuntimeError("create_server returned no server")
        await server.startup()
        await server.before_start()
        await server.after_start()
        self._ready.set()
        await self._stop.wait()
        await server.before_stop()
        close = server.close()
        if close is not None:
            await close
        await server.after_stop()


async def _await(factory: Callable[[], Awaitable[T]]) -> T:
    return await factory()
