"""Pausing the garbage collector around large batches of short-lived objects.

Validating or building 100,000 models creates millions of objects that all
survive until the batch is done; the cyclic collector then runs over and over
and finds nothing to free. Measured here: two thirds of the time of a large
``model_validate`` batch is such collection. Pausing it for the batch is safe
(the objects are freed by reference counting as usual) and is undone when the
last concurrent batch ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector off inside the block (nesting and
    concurrent use from several threads are fine; a collector the application
    had switched off stays off)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
