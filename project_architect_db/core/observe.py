"""What happens after each statement: its timing goes into the stats, a log
line may be written, and the query listeners hear of it.

Logging uses the standard library under the ``project_architect_db`` logger and
its children (``.query`` here; ``.pool``, ``.migrations``, ``.engine``
elsewhere); the library adds no handlers. Parameter values hold user data, so
they are logged only with ``log_parameters=True``.

Everything here runs in the worker thread that ran the statement, after its
rows were read and before the next statement starts: listeners must be quick
and thread-safe. With no listener, no slow statement and DEBUG off, a statement
pays one lock and a few comparisons.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ProjectArchitectDBError, Stage, StatementTimeoutError
from .stats import QueryStatsRecorder

if TYPE_CHECKING:
    from .driver import Driver

__all__ = ["QueryEvent", "QueryListener", "QueryObserver", "query_logger"]

#: Every statement (DEBUG), slow statements (WARNING), listeners that failed (ERROR).
query_logger = logging.getLogger("project_architect_db.query")

Parameters = Mapping[str, Any] | Sequence[Any] | None


@dataclass(frozen=True, slots=True)
class QueryEvent:
    """One statement the library ran, as its query listeners receive it."""

    name: str
    """The named query (``sql/*.sql``), ``execute_raw`` for caller-supplied SQL,
    or ``migration NNNN_name``."""
    sql: str
    """The statement's text, with placeholders (never parameter values)."""
    duration: float
    """Seconds from sending the statement to having read its rows."""
    rows: int | None
    """Rows it returned, or None for a statement run for its effect."""
    error: ProjectArchitectDBError | None
    """The library's error for a statement that failed (a ``StatementTimeoutError``
    when ``statement_timeout`` interrupted it), else None."""
    in_transaction: bool
    """It ran inside a transaction (``engine.transaction()``, ``begin()``, or a
    write's own ``atomic()`` block)."""


QueryListener = Callable[[QueryEvent], object]
"""A callable taking a :class:`QueryEvent`; its return value is ignored."""


class QueryObserver:
    """The stats, the query log and the listeners of one engine."""

    __slots__ = ("_listeners", "_lock", "_log_parameters", "_slow", "recorder")

    def __init__(
        self,
        recorder: QueryStatsRecorder,
        *,
        slow_query_threshold: float | None = 1.0,
        log_parameters: bool = False,
    ) -> None:
        self.recorder = recorder
        self._slow = math.inf if slow_query_threshold is None else slow_query_threshold
        self._log_parameters = log_parameters
        self._lock = threading.Lock()
        # Replaced, never changed in place: a worker thread iterates the tuple it read.
        self._listeners: tuple[QueryListener, ...] = ()

    # -- listeners -----------------------------------------------------------------

    def add_listener(self, listener: QueryListener) -> None:
        if not callable(listener):
            raise TypeError(f"a query listener must be callable, not {listener!r}")
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def remove_listener(self, listener: QueryListener) -> bool:
        """Remove one registration of ``listener``; False if it had none."""
        with self._lock:
            listeners = list(self._listeners)
            if listener not in listeners:
                return False
            listeners.remove(listener)
            self._listeners = tuple(listeners)
            return True

    # -- statements ----------------------------------------------------------------

    def finished(
        self,
        name: str,
        sql: str,
        parameters: Parameters,
        seconds: float,
        rows: int | None,
        in_transaction: bool,
    ) -> None:
        """A statement that succeeded."""
        self.recorder.record(name, seconds)
        if self._heard(seconds):
            self._publish(QueryEvent(name, sql, seconds, rows, None, in_transaction), parameters)

    def failed(
        self,
        name: str,
        sql: str,
        parameters: Parameters,
        seconds: float,
        exc: Exception,
        in_transaction: bool,
        timed_out: bool,
        driver: Driver,
    ) -> None:
        """A statement that raised ``exc``; ``timed_out``: its call had passed
        ``statement_timeout`` and was being interrupted."""
        timed_out = timed_out and isinstance(exc, driver.interrupted)
        self.recorder.record(name, seconds, failed=True, timed_out=timed_out)
        if self._heard(seconds):
            error: ProjectArchitectDBError
            if timed_out:
                error = StatementTimeoutError(
                    f"query {name!r} was interrupted after {seconds:.3f}s: its call ran longer "
                    "than statement_timeout"
                )
            else:
                error = driver.translate(exc, during=Stage.STATEMENT)
            self._publish(QueryEvent(name, sql, seconds, None, error, in_transaction), parameters)

    # -- internals -----------------------------------------------------------------

    def _heard(self, seconds: float) -> bool:
        """Someone will see this statement: a listener, the slow-query WARNING or
        the DEBUG log. Otherwise no event (nor a translated error) is built."""
        return bool(
            self._listeners or seconds >= self._slow or query_logger.isEnabledFor(logging.DEBUG)
        )

    def _publish(self, event: QueryEvent, parameters: Parameters) -> None:
        if event.duration >= self._slow:
            query_logger.warning(
                "slow query %s: %s after %.3fs (slow_query_threshold=%gs), %s%s",
                event.name,
                "failed" if event.error else "finished",
                event.duration,
                self._slow,
                _rows(event),
                self._parameters(parameters),
                extra={"query": event.name, "duration": event.duration, "rows": event.rows},
            )
        elif query_logger.isEnabledFor(logging.DEBUG):
            query_logger.debug(
                "query %s: %s in %.3f ms, %s%s",
                event.name,
                "failed" if event.error else "finished",
                event.duration * 1000,
                _rows(event),
                self._parameters(parameters),
                extra={"query": event.name, "duration": event.duration, "rows": event.rows},
            )
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                # A broken listener must never break the call that ran the statement.
                self.remove_listener(listener)
                query_logger.exception(
                    "query listener %r raised on query %s and was removed", listener, event.name
                )

    def _parameters(self, parameters: Parameters) -> str:
        if not self._log_parameters or not parameters:
            return ""
        return f", parameters {parameters!r}"


def _rows(event: QueryEvent) -> str:
    if event.error is not None:
        return f"{type(event.error).__name__}: {event.error}"
    return "no rows returned" if event.rows is None else f"{event.rows} rows"
