"""GraphQL operation metrics as one Strawberry schema extension.

Operation-level hooks only (no resolver wrapping: that would cost per field).
An operation is counted by its name and type once it ends, with its latency
for queries and mutations; a subscription is counted as active from the start
of its execution to the end of its stream. Errors count by ``extensions.code``.
The operation is also noted on the current request for the access log line.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from app import metrics, request_context

VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
INTERNAL = "INTERNAL_SERVER_ERROR"


class OperationMetrics(SchemaExtension):
    """Counts, times and labels each GraphQL operation (see app/metrics.py)."""

    _labels: tuple[str, str] | None = None
    _subscribed = False

    def on_operation(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self._record(time.perf_counter() - start)

    def on_execute(self) -> Iterator[None]:
        # Parsed and validated by now: name and type are known.
        name, kind = self._labels = self._operation()
        request_context.note_operation(f"{kind} {name}")
        if kind == OperationType.SUBSCRIPTION.value:
            self._subscribed = True
            metrics.subscription_started()
        yield

    def _operation(self) -> tuple[str, str]:
        context = self.execution_context
        name = metrics.operation_label(context.operation_name)
        try:
            kind = context.operation_type.value
        except Exception:  # no document, or no operation of that name: a request error
            kind = "unknown"
        return name, kind

    def _record(self, seconds: float) -> None:
        if self._labels is None:
            # Refused before execution (parse, validation, limits).
            self._labels = self._operation()
            request_context.note_operation(" ".join(reversed(self._labels)))
        name, kind = self._labels
        if self._subscribed:
            metrics.subscription_ended()
        metrics.observe_operation(name, kind, None if self._subscribed else seconds)
        result = self.execution_context.result
        for error in (result.errors or []) if result is not None else []:
            metrics.graphql_error(error_code(error))


def error_code(error: GraphQLError) -> str:
    """The code a client sees for ``error`` (this hook runs before masking)."""
    code = (error.extensions or {}).get("code")
    if isinstance(code, str):
        return code
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return VALIDATION_FAILED  # parse, validation and variable errors
    code = getattr(original, "code", None)
    return code if isinstance(code, str) else INTERNAL
