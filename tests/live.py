"""A real waitress server in a thread, for tests that need sockets (WAIT under load, browsers)."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from waitress.server import create_server


@contextmanager
def serve(app: Any, threads: int = 4) -> Iterator[str]:
    """Serve ``app`` on a free localhost port; yield its base URL."""
    server = create_server(app, host="127.0.0.1", port=0, threads=threads, channel_timeout=300)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        # Idle keep-alive connections (browsers keep them) would hold the loop open: have
        # the loop close them, then stop listening.
        for channel in list(server.active_channels.values()):
            channel.will_close = True
        server.pull_trigger()
        server.close()
        thread.join(timeout=5)
