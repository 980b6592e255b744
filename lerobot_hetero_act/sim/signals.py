"""Turn SIGINT/SIGTERM into KeyboardInterrupt at safe points only.

SIGTERM (e.g. from a job scheduler) normally kills Python without running `finally` blocks;
mapping it to KeyboardInterrupt lets the recorder discard the half-recorded episode and close
the dataset. Inside `deferred()` (an episode being committed to disk) both signals are held
back and re-raised when the block ends, so a commit is never cut in half by a signal.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalGuard:
    def __init__(self) -> None:
        self._deferring = False
        self._pending: int | None = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._deferring:
            self._pending = signum
            return
        raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")

    @contextmanager
    def installed(self) -> Iterator[SignalGuard]:
        """Install the handlers (main thread only; elsewhere signals keep their defaults)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.signal(sig, self._handle) for sig in _SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold signals back for the duration of the block, then raise if one arrived."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
            pending, self._pending = self._pending, None
            if pending is not None:
                raise KeyboardInterrupt(
                    f"received {signal.Signals(pending).name} (after finishing the commit)"
                )
