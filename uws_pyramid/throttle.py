"""Failed logins, counted per user name and per client address: a growing wait after a few."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable, Iterable

#: Failures forgotten after this many seconds without another one.
FORGET = 900.0


def address_key(address: str | None) -> str | None:
    """The throttling key of a client address: IPv6 clients by their /64 (one host usually
    holds a whole /64), IPv4 clients by their address."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"address:{address[:64]}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"address:{ip.ipv4_mapped}"
        return f"address:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"address:{ip}"


class Throttle:
    """After ``free`` failures of one key, each further attempt must wait 1 s, then 2, 4 ...
    up to ``cap`` seconds after the last failure. Kept in memory (per process) for at most
    ``size`` keys: when full, the oldest are dropped, so the table never grows unbounded."""

    def __init__(
        self,
        free: int = 5,
        cap: float = 60.0,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.cap = cap
        self.size = size
        self.clock = clock
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def delay(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return float(min(self.cap, 2 ** (failures - self.free)))

    def wait(self, keys: Iterable[str | None]) -> float:
        """Seconds until every key may try again (0: now)."""
        now = self.clock()
        longest = 0.0
        with self._lock:
            for key in keys:
                if key is None or key not in self._failures:
                    continue
                count, last = self._failures[key]
                longest = max(longest, last + self.delay(count) - now)
        return longest

    def failed(self, keys: Iterable[str | None]) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) >= self.size:
                self._prune(now)
            for key in keys:
                if key is not None:
                    count, _ = self._failures.pop(key, (0, now))
                    self._failures[key] = (count + 1, now)  # re-inserted: newest last

    def succeeded(self, keys: Iterable[str | None]) -> None:
        with self._lock:
            for key in keys:
                if key is not None:
                    self._failures.pop(key, None)

    def _prune(self, now: float) -> None:
        """Forget stale keys; if the table is still full, the oldest half."""
        self._failures = {
            k: v for k, v in self._failures.items() if now - v[1] < max(FORGET, self.delay(v[0]))
        }
        if len(self._failures) >= self.size:
            keep = list(self._failures.items())[len(self._failures) // 2 :]
            self._failures = dict(keep)
