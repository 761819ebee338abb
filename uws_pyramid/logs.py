"""Log lines: JSON (``uws.log.format = json``) or text, for requests, phase changes and
background passes, with secrets taken out of every line."""

from __future__ import annotations

import json
import logging
import re
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


def request_line(fields: dict[str, Any]) -> None:
    """One line per request answered."""
    ACCESS.info(
        "%s %s %s %.1f ms user=%s job=%s request=%s",
        fields["method"],
        fields["path"],
        fields["status"],
        fields["duration_ms"],
        fields["user"] or "-",
        fields["job_id"] or "-",
        fields["request_id"],
        extra={"uws": {"event": "request", **fields}},
    )


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
