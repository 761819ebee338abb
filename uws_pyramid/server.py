"""pserve's server runner (``use = egg:uws-pyramid#main``): waitress that stops gracefully."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.trigger import trigger
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server

log = logging.getLogger(__name__)

#: Seconds the requests in flight get to finish once a stop was asked for.
SHUTDOWN_GRACE = 10.0
#: Bytes of a response waitress holds before the worker writing it waits for the client.
OUTBUF_HIGH_WATERMARK = 1 << 20
#: Seconds the finished responses get to leave before the connections are closed.
FLUSH_GRACE = 2.0


class GracefulStop:
    """On SIGTERM or SIGINT: stop accepting connections, answer waiting WAIT requests at once,
    let the requests in flight finish (for at most ``grace`` seconds), stop the service's
    background threads (``Runtime.close()``), then end waitress's loop. Running jobs are
    left alone: the next start-up adopts them."""

    def __init__(self, server: BaseWSGIServer | MultiSocketServer, app: Any, grace: float) -> None:
        self.server = server
        self.runtime = getattr(getattr(app, "registry", None), "uws", None)
        self.grace = grace
        self._started = threading.Event()
        # Listening sockets, connections and the trigger that wakes the loop share one map.
        self._map: dict[int, Any] = (
            server.map if isinstance(server, MultiSocketServer) else server._map
        )

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _of_type(self, kind: type) -> list[Any]:
        return [x for x in list(self._map.values()) if isinstance(x, kind)]

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Runs in the main thread, between two turns of waitress's loop.
        if self._started.is_set():
            log.warning("%s again: already stopping", signal.Signals(signum).name)
            return
        self._started.set()
        log.warning(
            "%s: stopping (no new connections; requests in flight get %.0f s)",
            signal.Signals(signum).name,
            self.grace,
        )
        for listener in self._of_type(BaseWSGIServer):
            listener.accepting = False  # out of the next select()
        # The rest in a thread: the loop (which this handler interrupted) must keep turning.
        threading.Thread(target=self._stop, name="uws-shutdown", daemon=True).start()

    def _stop(self) -> None:
        started = time.monotonic()
        # Closed from the loop's own turn: select() may be running on its descriptor now.
        self._pull(self._close_listeners)
        if self.runtime is not None:
            self.runtime.service.stop_waiting()
        tasks = self.server.task_dispatcher
        deadline = started + self.grace
        while (tasks.active_count or tasks.queue) and time.monotonic() < deadline:
            time.sleep(0.02)
        if tasks.active_count or tasks.queue:
            log.warning(
                "%d request(s) still in flight after %.0f s: cut off",
                tasks.active_count + len(tasks.queue),
                self.grace,
            )
        if self.runtime is not None:
            try:
                self.runtime.close()
            except Exception:
                log.exception("stopping the service's background work failed")
        self._pull(self._close_after_flush)
        deadline = time.monotonic() + FLUSH_GRACE
        while self._channels() and time.monotonic() < deadline:
            time.sleep(0.02)
        log.warning("stopped in %.2f s; running jobs keep running", time.monotonic() - started)
        self._pull(self._close_all)

    def _channels(self) -> list[HTTPChannel]:
        return self._of_type(HTTPChannel)

    def _pull(self, thunk: Callable[[], None]) -> None:
        """Run ``thunk`` in the loop's thread (waitress's channels are not thread safe)."""
        triggers = self._of_type(trigger)
        if triggers:
            triggers[0].pull_trigger(thunk)
        else:
            thunk()

    def _close_listeners(self) -> None:
        # The listening sockets only, not waitress's trigger: the loop still runs.
        for listener in self._of_type(BaseWSGIServer):
            wasyncore.dispatcher.close(listener)

    def _close_after_flush(self) -> None:
        # A channel closes itself once its response is sent when will_close is set.
        for channel in self._channels():
            channel.will_close = True

    def _close_all(self) -> None:
        wasyncore.close_all(self._map)  # the loop ends with its map empty


def serve_paste(app: Any, global_conf: dict[str, str], **options: str) -> int:
    """The ``paste.server_runner`` entry point: waitress's options, plus ``shutdown_grace``."""
    grace = float(options.pop("shutdown_grace", SHUTDOWN_GRACE))
    # A streamed job list is made faster than a client reads it: waitress buffers up to this
    # much of a response before the worker waits (16 MB by default, so the server's peak
    # memory grew with the list; at 1 MB it stays flat: bench/bench_lists.py).
    options.setdefault("outbuf_high_watermark", str(OUTBUF_HIGH_WATERMARK))
    server = create_server(app, **options)
    GracefulStop(server, app, grace).install()
    server.print_listen("Serving on http://{}:{}")
    server.run()
    return 0
