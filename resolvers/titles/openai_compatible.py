"""Titles from any OpenAI-compatible chat-completions endpoint.

OpenAI, Ollama (``http://localhost:11434/v1``), vLLM and LM Studio all
accept ``POST {base_url}/chat/completions``; ``base_url`` includes the
``/v1`` part, as in the OpenAI SDK.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from resolvers.titles.clean import clean_title
from resolvers.titles.generator import (
    SOURCE_MAX_CHARS,
    TitleGenerationError,
    TitleSource,
    first_text,
)

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You write titles for chat conversations. Reply with only a concise title of 3 to 7 words "
    "that names the conversation's topic, in the language the user wrote in. No quotes, no "
    "trailing punctuation, no prefix such as 'Title:', no explanation."
)
MAX_RETRY_AFTER_S = 4.0
"""Longest Retry-After honoured; the route stops waiting after about 15 s."""

# Reasoning models served through Ollama or vLLM put their thinking inline.
_THINKING = re.compile(r"<think(?:ing)?>.*?(?:</think(?:ing)?>|\Z)", re.DOTALL | re.IGNORECASE)


class _Retryable(Exception):
    """One attempt failed in a way another attempt may not."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class OpenAICompatibleTitleGenerator:
    """Ask a chat-completions endpoint for a title.

    Each attempt is bounded by ``timeout_s`` in total (connect, send, wait,
    read), so a server that trickles bytes cannot hold a title forever.
    Connect errors, timeouts, 429 and 5xx are retried up to ``max_retries``
    times with exponential backoff from ``backoff_s`` (a 429's Retry-After
    is honoured up to :data:`MAX_RETRY_AFTER_S`); anything else fails at once.
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 10.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Configure the endpoint.

        Args:
            base_url: e.g. ``https://api.openai.com/v1``; ``/chat/completions`` is appended.
            model: the model name the endpoint knows.
            api_key: sent as a bearer token when set; local servers need none.
            timeout_s: limit for one attempt, start to parsed response.
            max_retries: further attempts after a retryable failure.
            backoff_s: delay before the first retry, doubled for each next one.
            client: a shared client; one is created (and closed by :meth:`aclose`) if None.
            sleep: the backoff's sleep, replaceable in tests.
        """
        if not base_url.startswith(("http://", "https://")):
            # Caught at startup rather than as a failed title per conversation.
            raise ValueError(
                f"title API base URL must start with http:// or https://: {base_url!r}"
            )
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if max_retries < 0:
            raise ValueError("max_retries must not be negative")
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient()

    async def generate(self, messages: Sequence[TitleSource]) -> str:
        """Return the endpoint's title for ``messages``, cleaned.

        Raises:
            TitleGenerationError: nothing to title, retries exhausted, a
                non-retryable status, or a response without a usable title.
        """
        payload = self._payload(messages)
        attempts = self._max_retries + 1
        for attempt in range(attempts):
            try:
                return await self._attempt(payload)
            except _Retryable as exc:
                if attempt + 1 == attempts:
                    raise TitleGenerationError(
                        f"title API failed after {attempts} attempts: {exc}"
                    ) from exc
                delay = self._backoff_s * 2**attempt
                if exc.retry_after_s is not None:
                    delay = max(delay, min(exc.retry_after_s, MAX_RETRY_AFTER_S))
                logger.info("title API attempt %d failed (%s); retrying", attempt + 1, exc)
                await self._sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")

    async def aclose(self) -> None:
        """Close the HTTP client if this generator created it."""
        if self._owns_client:
            await self._client.aclose()

    def _payload(self, messages: Sequence[TitleSource]) -> dict[str, Any]:
        user = first_text(messages, "user").strip()[:SOURCE_MAX_CHARS]
        assistant = first_text(messages, "assistant").strip()[:SOURCE_MAX_CHARS]
        if not user and not assistant:
            raise TitleGenerationError("no message text to title")
        parts = [f"User: {user}"] if user else []
        if assistant:
            parts.append(f"Assistant: {assistant}")
        conversation = "\n\n".join(parts)
        # No max_tokens or temperature: OpenAI's reasoning models reject
        # them, and the timeout plus clean_title already bound the answer.
        return {
            "model": self._model,
            "stream": False,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {
                    "role": "user",
                    "content": f"Title this conversation:\n\n{conversation}",
                },
            ],
        }

    async def _attempt(self, payload: dict[str, Any]) -> str:
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._client.post(
                    self._url,
                    json=payload,
                    headers=self._headers,
                    timeout=self._timeout_s,
                )
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise _Retryable("timed out") from exc
        except httpx.TransportError as exc:
            raise _Retryable(f"{type(exc).__name__}") from exc
        status = response.status_code
        if status == 429:
            raise _Retryable("429 Too Many Requests", _retry_after(response))
        if status >= 500:
            raise _Retryable(f"HTTP {status}")
        if status != 200:
            # The body may echo the key or the prompt; the status is enough to act on.
            raise TitleGenerationError(f"title API answered HTTP {status}")
        return _parse_title(response.content)


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after", "")
    try:
        value = float(raw)
    except ValueError:
        return None  # an HTTP date: rare from these APIs; the backoff applies
    return value if value >= 0 else None


def _parse_title(body: bytes) -> str:
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise TitleGenerationError("title API answered malformed JSON") from exc
    try:
        content = document["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise TitleGenerationError("title API response has no choices[0].message.content") from exc
    if isinstance(content, list):
        # Some servers answer content parts: [{"type": "text", "text": "..."}].
        content = "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    if not isinstance(content, str):
        raise TitleGenerationError("title API content is not text")
    title = clean_title(_THINKING.sub("", content))
    if not title:
        raise TitleGenerationError("title API answered an empty title")
    return title
