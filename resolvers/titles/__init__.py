"""Conversation titles: generation (an OpenAI-compatible API or offline rules),
the read-once cache the gen_title route polls, and the background runner.
"""

from resolvers.titles.cache import (
    MemoryTitleCache,
    RedisTitleCache,
    TitleCache,
    title_cache_key,
)
from resolvers.titles.clean import TITLE_MAX_CHARS, clean_title
from resolvers.titles.factories import (
    TitleSettings,
    build_title_cache,
    build_title_generator,
    build_title_service,
)
from resolvers.titles.fallback import FallbackTitleGenerator
from resolvers.titles.generator import TitleGenerationError, TitleGenerator, TitleSource
from resolvers.titles.offline import FALLBACK_TITLE, OfflineTitleGenerator
from resolvers.titles.openai_compatible import OpenAICompatibleTitleGenerator
from resolvers.titles.service import TitleService
from resolvers.titles.waiting import GEN_TITLE_DELAYS_S, wait_for_title

__all__ = [
    "FALLBACK_TITLE",
    "GEN_TITLE_DELAYS_S",
    "TITLE_MAX_CHARS",
    "FallbackTitleGenerator",
    "MemoryTitleCache",
    "OfflineTitleGenerator",
    "OpenAICompatibleTitleGenerator",
    "RedisTitleCache",
    "TitleCache",
    "TitleGenerationError",
    "TitleGenerator",
    "TitleService",
    "TitleSettings",
    "TitleSource",
    "build_title_cache",
    "build_title_generator",
    "build_title_service",
    "clean_title",
    "title_cache_key",
    "wait_for_title",
]
