"""A generator that falls back to another when the first one fails."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from resolvers.titles.generator import (
    AsyncClosable,
    TitleGenerationError,
    TitleGenerator,
    TitleSource,
)

logger = logging.getLogger(__name__)


class FallbackTitleGenerator:
    """Try ``primary``; on :class:`TitleGenerationError` use ``fallback``.

    Only generation errors fall back: a bug in the primary generator
    (any other exception) propagates, so it is seen rather than masked by
    plausible offline titles.
    """

    def __init__(self, primary: TitleGenerator, fallback: TitleGenerator) -> None:
        """Wrap two generators; :meth:`aclose` closes both."""
        self._primary = primary
        self._fallback = fallback

    async def generate(self, messages: Sequence[TitleSource]) -> str:
        """Return the primary generator's title, or the fallback's when it fails.

        Raises:
            TitleGenerationError: both generators failed.
        """
        try:
            return await self._primary.generate(messages)
        except TitleGenerationError as exc:
            logger.warning("title generation failed, using the fallback generator: %s", exc)
        return await self._fallback.generate(messages)

    async def aclose(self) -> None:
        """Release whatever either generator holds."""
        for generator in (self._primary, self._fallback):
            if isinstance(generator, AsyncClosable):
                await generator.aclose()
