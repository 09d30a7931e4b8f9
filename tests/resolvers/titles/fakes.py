"""Small generators for tests: scripted, failing, or gated by an event."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from resolvers.titles.generator import TitleGenerationError, TitleSource


class StaticGenerator:
    def __init__(self, title: str) -> None:
        self.title = title
        self.calls: list[Sequence[TitleSource]] = []
        self.closed = False

    async def generate(self, messages: Sequence[TitleSource]) -> str:
        self.calls.append(messages)
        return self.title

    async def aclose(self) -> None:
        self.closed = True


class FailingGenerator:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error or TitleGenerationError("the API is down")
        self.calls = 0
        self.closed = False

    async def generate(self, messages: Sequence[TitleSource]) -> str:
        self.calls += 1
        raise self.error

    async def aclose(self) -> None:
        self.closed = True


class GatedGenerator:
    """Blocks every call until :meth:`release`; counts calls running at once."""

    def __init__(self, title: str = "Gated title") -> None:
        self.title = title
        self.calls = 0
        self.running = 0
        self.most_running = 0
        self._gate = asyncio.Event()

    def release(self) -> None:
        self._gate.set()

    async def generate(self, messages: Sequence[TitleSource]) -> str:
        self.calls += 1
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await self._gate.wait()
        finally:
            self.running -= 1
        return self.title
