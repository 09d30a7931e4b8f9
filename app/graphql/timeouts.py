"""What happens to an operation that outlives GRAPHQL_TIMEOUT_S.

The client gets 503 TIMEOUT at the deadline either way; what the server does
with the work differs by kind (see :func:`finish_or_cancel`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from graphql import GraphQLError, get_operation_ast, parse
from graphql.language import OperationType as OperationTypeNode

log = logging.getLogger("convos_gateway.graphql")


async def finish_or_cancel(
    execution: asyncio.Future[Any], query: str | None, name: str | None
) -> None:
    """After a timeout: a query stops; a mutation runs to its end in the background.

    Cancelling a mutation between its writes would leave half of it stored
    (a fork's copy without its tag recount); the client was told TIMEOUT and
    finds the result on its next read. Parsed again only here, on the rare
    timeout path, so normal requests pay nothing.
    """
    if not is_mutation(query, name):
        execution.cancel()
        # Let the cancelled reads unwind (and release their connections) now.
        with contextlib.suppress(BaseException):
            await execution
        return

    def _retrieve(done: asyncio.Future[Any]) -> None:
        if not done.cancelled() and done.exception() is not None:
            log.warning("timed-out mutation %r failed: %r", name, done.exception())

    execution.add_done_callback(_retrieve)


def may_be_mutation(query: str | None, name: str | None) -> bool:
    """Whether the document may run a mutation; only one naming the word is parsed."""
    return query is not None and "mutation" in query and is_mutation(query, name)


def is_mutation(query: str | None, name: str | None) -> bool:
    try:
        document = parse(query or "")
    except GraphQLError:
        return False
    operation = get_operation_ast(document, name)
    return operation is not None and operation.operation is OperationTypeNode.MUTATION
