"""Log lines: JSON (``uws.log.format = json``) or text, for requests, phase changes and
background passes, with secrets taken out of every line."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .jobs import Phase
from .plugins import hookimpl

if TYPE_CHECKING:
    from pyramid.config import Configurator

ACCESS = logging.getLogger("uws_pyramid.access")
PHASES = logging.getLogger("uws_pyramid.phase")
BACKGROUND = logging.getLogger("uws_pyramid.background")

#: ``password=...``, ``"token": "..."``, ``Authorization: ...``: the value is replaced.
_KEYED = re.compile(
    r"(?i)(password|passwd|token|secret|authorization|cookie|signature|csrf[_-]?token)"
    r"([\"']?\s*[=:]\s*[\"']?)(?:(?:basic|bearer)\s+)?[^\s&\"',;]+"
)
#: Credentials that may appear on their own: HTTP schemes and our API tokens (uws_<id>_<secret>).
_BARE = re.compile(
    r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/=._~-]{8,}|\buws_[A-Za-z0-9]+_[A-Za-z0-9_-]{8,}"
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """The text with the values of anything that looks like a credential replaced."""
    text = _KEYED.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _BARE.sub(REDACTED, text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the event's own fields
    (``extra={"uws": {...}}``) and the exception's traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.name != ACCESS.name:  # access lines hold no secret (the path, not the query)
            line["message"] = redact(line["message"])
        fields = getattr(record, "uws", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class RedactingFormatter(logging.Formatter):
    """The text format of the ini's formatter, with credentials taken out."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        text = self.inner.format(record)
        # Access lines are made of fields that hold no secret (the path, not the query).
        return text if record.name == ACCESS.name else redact(text)


def configure(fmt: str) -> None:
    """Give every handler of the root and ``uws_pyramid`` loggers the chosen format (the
    ini's [handler_*] sections keep where lines go). Without any handler, JSON lines go to
    stderr; text lines stay as Python's logging has them."""
    root = logging.getLogger()
    if fmt == "json" and not root.handlers:
        root.addHandler(logging.StreamHandler())
    for logger in (root, logging.getLogger("uws_pyramid")):
        for handler in logger.handlers:
            if fmt == "json":
                if not isinstance(handler.formatter, JsonFormatter):
                    handler.setFormatter(JsonFormatter())
            elif not isinstance(handler.formatter, RedactingFormatter):
                handler.setFormatter(RedactingFormatter(handler.formatter))


def includeme(config: Configurator) -> None:
    configure(config.registry.uws_settings.log_format)


#: An access line's text; its arguments are the request's fields.
ACCESS_LINE = "%s %s %s %.1f ms user=%s job=%s request=%s"
#: The state of a record made by the logger for an access line, copied for each line with
#: its time, thread and arguments (made again in a child process: its process id differs).
_access_state: tuple[dict[str, Any], float] | None = None


def _forget_access_state() -> None:
    global _access_state
    _access_state = None


os.register_at_fork(after_in_child=_forget_access_state)


def _access_record(fields: dict[str, Any]) -> logging.LogRecord:
    """The record of an access line, as ``ACCESS.info`` in ``request_line`` would make it, at
    a third of the cost: a copy of one record's state (LogRecord.__init__ reads names of
    files, process and thread; the logger walks the stack for the caller) with this line's
    time, thread and arguments."""
    global _access_state
    if _access_state is None:
        code = request_line.__code__
        made = ACCESS.makeRecord(
            ACCESS.name,
            logging.INFO,
            code.co_filename,
            code.co_firstlineno,
            ACCESS_LINE,
            (),
            None,
            code.co_name,
        )
        # With relativeCreated less the time in ms: a line's relativeCreated is this plus its.
        _access_state = made.__dict__.copy(), made.relativeCreated - made.created * 1000
    state, relative = _access_state
    record = logging.LogRecord.__new__(logging.LogRecord)
    mine = record.__dict__
    mine.update(state)
    now = time.time()
    mine["created"] = now
    mine["msecs"] = int((now - int(now)) * 1000) + 0.0  # as LogRecord has it
    mine["relativeCreated"] = relative + now * 1000
    if state["thread"] is not None:  # else logging.logThreads is off
        thread = threading.current_thread()
        mine["thread"], mine["threadName"] = thread.ident, thread.name
    mine["args"] = _access_args(fields)
    mine["uws"] = {"event": "request", **fields}
    return record


def _access_args(fields: dict[str, Any]) -> tuple[Any, ...]:
    return (
        fields["method"],
        fields["path"],
        fields["status"],
        fields["duration_ms"],
        fields["user"] or "-",
        fields["job_id"] or "-",
        fields["request_id"],
    )


def request_line(fields: dict[str, Any]) -> None:
    """One line per request answered, to the handlers of the access logger and its parents,
    as its level, theirs and their filters decide."""
    if not ACCESS.isEnabledFor(logging.INFO):
        return
    if logging.getLogRecordFactory() is logging.LogRecord:
        ACCESS.handle(_access_record(fields))
    else:  # a factory of the deployment's own may add to each record: the logger's own way
        extra = {"uws": {"event": "request", **fields}}
        ACCESS.info(ACCESS_LINE, *_access_args(fields), extra=extra)


def background_pass(task: str, seconds: float, error: BaseException | None) -> None:
    """Background.on_pass listener: one line per pass (failures at WARNING; the background
    loop logs their traceback)."""
    fields = {
        "event": "background",
        "task": task,
        "duration_ms": round(seconds * 1000, 1),
        "ok": error is None,
        "error": None if error is None else str(error),
    }
    if error is None:
        BACKGROUND.info(
            "background %s: pass done in %.1f ms", task, seconds * 1000, extra={"uws": fields}
        )
    else:
        BACKGROUND.warning("background %s: pass failed: %s", task, error, extra={"uws": fields})


class PhaseLogger:
    """One line per phase change (a ``uws_job_phase_changed`` hook implementation)."""

    @hookimpl
    def uws_job_phase_changed(self, job: Any, previous: Phase) -> None:
        reason = job.error.message if job.error is not None and job.phase == Phase.ERROR else None
        PHASES.info(
            "job %s (%s, owner %s): %s -> %s%s",
            job.job_id,
            job.job_type,
            job.owner_id or "-",
            previous,
            job.phase,
            f": {reason}" if reason else "",
            extra={
                "uws": {
                    "event": "phase",
                    "job_id": job.job_id,
                    "job_type": job.job_type,
                    "owner": job.owner_id,
                    "from": str(previous),
                    "to": str(job.phase),
                    "manager_id": job.process_id,
                    "reason": reason,
                }
            },
        )
