"""Start-up failures shown as one line naming the fix, not a traceback (pserve, scripts)."""

from __future__ import annotations

import os
import sys
from types import TracebackType

from .errors import ConfigurationError

#: Set (to anything) to see the whole traceback of a start-up failure.
DEBUG_VARIABLE = "UWS_DEBUG"


def _hook(previous: object) -> object:
    def excepthook(
        kind: type[BaseException], error: BaseException, trace: TracebackType | None
    ) -> None:
        if isinstance(error, ConfigurationError) and not os.environ.get(DEBUG_VARIABLE):
            print(f"uws-pyramid: cannot start: {error}", file=sys.stderr)
            print(f"  (set {DEBUG_VARIABLE}=1 to see where it happened)", file=sys.stderr)
            return
        previous(kind, error, trace)  # type: ignore[operator]

    excepthook.uws = True  # type: ignore[attr-defined]
    return excepthook


def install_excepthook() -> None:
    """Make an uncaught ConfigurationError end the process with its message only. pserve
    lets the application factory's exceptions through; this is where they end up."""
    if not getattr(sys.excepthook, "uws", False):
        sys.excepthook = _hook(sys.excepthook)  # type: ignore[assignment]
