"""One error hierarchy: every failure a client can see is a UWSError rendered in one place."""

from __future__ import annotations


class UWSError(Exception):
    """A failure with an HTTP status and a message meant for the client."""

    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(UWSError):
    status = 400


class InvalidValue(BadRequest):
    """A malformed value: the message names the parameter and the expected form."""

    def __init__(self, name: str, expected: str, value: object = None) -> None:
        shown = "" if value is None else f" (got {str(value)[:80]!r})"
        super().__init__(f"Invalid value for parameter {name}{shown}: expected {expected}")
        self.name = name
        self.expected = expected


class Unauthorized(UWSError):
    """No credentials, or wrong ones: the response asks for HTTP Basic credentials."""

    status = 401


class Forbidden(UWSError):
    status = 403


class QuotaExceeded(Forbidden):
    """A per-user limit would be passed; the message names the limit and its setting."""


class NotFound(UWSError):
    status = 404


class MethodNotAllowed(UWSError):
    """``allow``: the methods of this resource, when not those of its whole route."""

    status = 405

    def __init__(self, message: str, allow: str | None = None) -> None:
        super().__init__(message)
        self.allow = allow


class Conflict(UWSError):
    status = 409


class TooManyRequests(UWSError):
    """Too many failed logins from this client or for this user: retry after ``retry_after``
    seconds."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PayloadTooLarge(UWSError):
    status = 413


class InsufficientStorage(UWSError):
    """The server's disk is full: nothing of the request was kept (RFC 4918 section 11.5)."""

    status = 507


class ServiceUnavailable(UWSError):
    """A dependency (the job database, ...) cannot be reached now: the client should retry
    after ``retry_after`` seconds; nothing was lost."""

    status = 503

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConfigurationError(Exception):
    """A bad deployment setting: stops start-up with a message naming the key."""
