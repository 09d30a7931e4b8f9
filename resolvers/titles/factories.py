"""Build the title machinery from the gateway's settings.

The settings are described structurally (:class:`TitleSettings`) so this
package does not import ``app``: dependencies point app → resolvers.
"""

from __future__ import annotations

from typing import Protocol

from resolvers.titles.cache import MemoryTitleCache, RedisTitleCache, TitleCache
from resolvers.titles.fallback import FallbackTitleGenerator
from resolvers.titles.generator import TitleGenerator
from resolvers.titles.offline import OfflineTitleGenerator
from resolvers.titles.openai_compatible import OpenAICompatibleTitleGenerator
from resolvers.titles.service import TitleService


class TitleSettings(Protocol):
    """The title knobs of ``app.settings.Settings``."""

    @property
    def redis_uri(self) -> str | None: ...
    @property
    def title_api_base_url(self) -> str | None: ...
    @property
    def title_api_key(self) -> str | None: ...
    @property
    def title_model(self) -> str: ...
    @property
    def title_timeout_s(self) -> float: ...
    @property
    def title_max_retries(self) -> int: ...
    @property
    def title_fallback_offline(self) -> bool: ...
    @property
    def title_cache_ttl_s(self) -> int: ...


def build_title_generator(settings: TitleSettings) -> TitleGenerator:
    """The API generator when ``TITLE_API_BASE_URL`` is set, else the offline one.

    With an API and ``TITLE_FALLBACK_OFFLINE`` (the default), API failures
    fall back to the offline generator instead of leaving no title.
    """
    if not settings.title_api_base_url:
        return OfflineTitleGenerator()
    api = OpenAICompatibleTitleGenerator(
        settings.title_api_base_url,
        model=settings.title_model,
        api_key=settings.title_api_key,
        timeout_s=settings.title_timeout_s,
        max_retries=settings.title_max_retries,
    )
    if settings.title_fallback_offline:
        return FallbackTitleGenerator(api, OfflineTitleGenerator())
    return api


def build_title_cache(settings: TitleSettings) -> TitleCache:
    """Redis when ``REDIS_URI`` is set (replicas share titles), else in memory."""
    if settings.redis_uri:
        return RedisTitleCache.from_url(settings.redis_uri)
    return MemoryTitleCache()


def build_title_service(settings: TitleSettings) -> TitleService:
    """Generator, cache and background runner, ready to use; close with ``aclose``."""
    return TitleService(
        build_title_generator(settings),
        build_title_cache(settings),
        ttl_s=settings.title_cache_ttl_s,
    )
