"""The batch job's first step on a node: signed "started" and "ended" events around the wrapper."""

# Run as a file (``python -I -S launch.py <job_dir>``) on a compute node: standard library
# only, and only its cheap modules (json, logging, subprocess and urllib each cost more CPU
# than the rest of this program, on nodes that the jobs share). Everything it needs was
# written by the server into the job's ``.uws/`` folder, so the batch script holds no job
# data: ``launch.args`` (job id, events URL, then the wrapper's command), ``launch.env`` (the
# wrapper's environment), both as NUL-separated entries, and ``events.key`` (the job's
# secret, mode 600, never on a command line).
from __future__ import annotations

import hashlib
import hmac
import os
import signal
import sys
import time

ARGS_FILE = "launch.args"
ENV_FILE = "launch.env"
KEY_FILE = "events.key"
EXIT_FILE = "exit.json"  # the wrapper's; a requeued job must not show the last run's end
TIMEOUT = 10.0


def sign(secret: str, job_id: str, event: str, timestamp: int) -> str:
    # The same HMAC as uws_pyramid.events.sign, which this file cannot import.
    message = f"{job_id}\n{event}\n{timestamp}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _split(url: str) -> tuple[bool, str, int, str]:
    """``http[s]://host[:port]/path`` -> (https?, host, port, path)."""
    secure = url.startswith("https://")
    netloc, _, path = url.split("://", 1)[1].partition("/")
    host, port = netloc, 443 if secure else 80
    if netloc.startswith("["):  # an IPv6 address
        host, _, tail = netloc[1:].partition("]")
        if tail.startswith(":"):
            port = int(tail[1:])
    elif ":" in netloc:
        host, _, number = netloc.rpartition(":")
        port = int(number)
    return secure, host, port, "/" + path


def _send(url: str, body: bytes) -> int:
    """POST a form; the response's status. Plain HTTP is written by hand (see above)."""
    secure, host, port, path = _split(url)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": str(len(body)),
    }
    if secure:
        import http.client

        connection = http.client.HTTPSConnection(host, port, timeout=TIMEOUT)
        try:
            connection.request("POST", path, body, headers)
            return connection.getresponse().status
        finally:
            connection.close()
    import socket

    head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        sock.sendall(head.encode("ascii") + body)
        reply = b""
        while b"\r\n" not in reply:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    parts = reply.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def post_event(url: str, secret: str, job_id: str, event: str) -> None:
    """Tell the server; a failure is only reported: the server's polling catches up."""
    when = int(time.time())
    # Every value is a word, digits or hex: nothing to escape.
    body = f"event={event}&time={when}&signature={sign(secret, job_id, event, when)}".encode()
    for attempt in range(2):
        try:
            status = _send(url, body)
        except (OSError, ValueError) as exc:
            sys.stderr.write(f"uws launch: event {event!r} not delivered ({exc})\n")
            time.sleep(0.5 * (attempt + 1))
            continue
        if status != 204:  # refused, or the job is gone: sending again would not help
            sys.stderr.write(f"uws launch: event {event!r}: the server answered {status}\n")
        return


def _entries(path: str) -> list[str]:
    with open(path, "rb") as stream:
        data = stream.read()
    return [e.decode("utf-8", "surrogateescape") for e in data.split(b"\0") if e]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: launch.py <job_dir>\n")
        return 2
    meta = os.path.join(argv[0], ".uws")
    job_id, url, *command = _entries(os.path.join(meta, ARGS_FILE))
    env = dict(e.partition("=")[::2] for e in _entries(os.path.join(meta, ENV_FILE)))
    url = "" if url == "-" else url
    if url:
        with open(os.path.join(meta, KEY_FILE), encoding="ascii") as stream:
            secret = stream.read().strip()
    try:
        os.unlink(os.path.join(meta, EXIT_FILE))
    except FileNotFoundError:
        pass
    child = 0

    def on_signal(signum: int, _frame: object) -> None:
        # scancel and a time limit signal every process of the job; stay alive so that the
        # "ended" event goes out, and pass the signal on in case only we received it.
        if child:
            try:
                os.kill(child, signum)
            except OSError:
                pass

    caught = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1)
    for signum in caught:
        signal.signal(signum, on_signal)
    os.chdir(argv[0])
    child = os.posix_spawnp(command[0], command, env, setsigdef=caught)
    if url:  # after the start, so that the script does not wait for the server
        post_event(url, secret, job_id, "started")
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    if url:
        post_event(url, secret, job_id, "ended")
    returncode = os.waitstatus_to_exitcode(status)
    return returncode if returncode >= 0 else 128 - returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
