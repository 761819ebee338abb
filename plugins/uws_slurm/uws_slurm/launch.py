"""The batch job's first step on the node: signed "started"/"ended" events around the core wrapper."""
# Run as a file (``python -I -S launch.py <job_dir>``) on a compute node: standard library
# only. Everything it needs was written by the server into the job's ``.uws/`` folder, so the
# batch script holds no job data: ``slurm.json`` (the wrapper's command and environment, the
# events URL) and ``events.key`` (the job's secret, mode 600, never on a command line).
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

CONFIG_FILE = "slurm.json"
KEY_FILE = "events.key"
EXIT_FILE = "exit.json"  # the wrapper's; a requeued job must not show the last run's end
TIMEOUT = 10.0


def sign(secret: str, job_id: str, event: str, timestamp: int) -> str:
    # The same HMAC as uws_pyramid.events.sign, which this file cannot import.
    message = f"{job_id}\n{event}\n{timestamp}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def post_event(url: str, secret: str, job_id: str, event: str) -> None:
    """Tell the server; a failure is only logged: the server's polling catches up."""
    import urllib.parse  # here: its import costs more than the rest of this program
    import urllib.request

    when = int(time.time())
    form = {"event": event, "time": str(when), "signature": sign(secret, job_id, event, when)}
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(),
                                     method="POST")
    for attempt in range(2):
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                response.read()
            return
        except Exception as exc:  # noqa: BLE001 - any network failure is the same to us
            print(f"uws launch: event {event!r} not delivered ({exc})", file=sys.stderr)
            time.sleep(0.5 * (attempt + 1))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: launch.py <job_dir>", file=sys.stderr)
        return 2
    meta = Path(argv[0]) / ".uws"
    config = json.loads((meta / CONFIG_FILE).read_text(encoding="utf-8"))
    url, job_id = str(config.get("events_url") or ""), str(config["job_id"])
    secret = (meta / KEY_FILE).read_text().strip() if url else ""
    (meta / EXIT_FILE).unlink(missing_ok=True)
    child: subprocess.Popen[bytes] | None = None

    def on_signal(signum: int, _frame: object) -> None:
        # scancel and a time limit signal every process of the job; stay alive so that the
        # "ended" event goes out, and pass the signal on in case only we received it.
        if child is not None and child.poll() is None:
            try:
                child.send_signal(signum)
            except OSError:
                pass

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
        signal.signal(signum, on_signal)
    child = subprocess.Popen(
        [str(arg) for arg in config["command"]], cwd=argv[0], env=dict(config["env"]),
        stdin=subprocess.DEVNULL,
    )
    if url:  # after the start, so that the script does not wait for the server
        post_event(url, secret, job_id, "started")
    while True:
        try:
            returncode = child.wait()
            break
        except InterruptedError:
            continue
    if url:
        post_event(url, secret, job_id, "ended")
    return returncode if returncode >= 0 else 128 - returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
