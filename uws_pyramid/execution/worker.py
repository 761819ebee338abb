"""A manager's background thread: one pass at a time, when woken or when its pause is over."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Worker:
    """Runs ``step`` in a daemon thread named ``name`` until ``stop``: first after ``pause``
    seconds, then after the pause each step returns, or sooner when ``wake`` is called. A
    step that raises is logged, and the next one comes after ``pause``."""

    def __init__(self, name: str, step: Callable[[], float], pause: float) -> None:
        self.name = name
        self.step = step
        self.pause = pause
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _loop(self) -> None:
        pause = self.pause
        while not self._stop.is_set():
            self._wake.wait(max(0.0, pause))
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                pause = self.step()
            except Exception:
                log.exception("%s: pass failed", self.name)
                pause = self.pause
