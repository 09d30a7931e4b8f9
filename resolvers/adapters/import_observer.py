"""Who is told when an import starts and ends (the app's metrics).

Resolvers know nothing of the app: the import operation reports to the
observer on ``Services``; the app hands in one that feeds its metrics, and
everything else (the CLI, tests) gets :class:`NoImportObserver`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

P = ParamSpec("P")


class ImportObserver(Protocol):
    def started(self) -> None:
        """An import began writing (or validating)."""

    def ended(self, conversations: int) -> None:
        """It ended, having written ``conversations`` (0 when it failed)."""


class NoImportObserver:
    def started(self) -> None:
        pass

    def ended(self, conversations: int) -> None:
        pass


class _Imported(Protocol):
    @property
    def conversations(self) -> int: ...


class _Observed(Protocol):
    @property
    def import_observer(self) -> ImportObserver: ...


S = TypeVar("S", bound=_Observed)
R = TypeVar("R", bound=_Imported)


def observed_import(
    run: Callable[Concatenate[S, P], Awaitable[R]],
) -> Callable[Concatenate[S, P], Awaitable[R]]:
    """Report ``run(services, ...)`` to ``services.import_observer``."""

    async def wrapper(services: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        observer = services.import_observer
        observer.started()
        conversations = 0
        try:
            result = await run(services, *args, **kwargs)
            conversations = result.conversations
            return result
        finally:
            observer.ended(conversations)

    functools.update_wrapper(wrapper, run)
    return wrapper
