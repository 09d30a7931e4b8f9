from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from resolvers.titles.generator import SOURCE_MAX_CHARS, TitleGenerationError, TitleSource
from resolvers.titles.openai_compatible import (
    MAX_RETRY_AFTER_S,
    SYSTEM_PROMPT,
    OpenAICompatibleTitleGenerator,
)
from tests.resolvers.titles.chat_completions_server import (
    ChatCompletionsServer,
    Reply,
    completion,
    json_reply,
)
from tests.resolvers.titles.conftest import SleepRecorder

SOURCES = [
    TitleSource("user", "How do I cook pasta al dente?"),
    TitleSource("assistant", "Boil salted water, add the pasta, taste a minute early."),
]

MakeGenerator = Callable[..., OpenAICompatibleTitleGenerator]


@pytest.fixture
async def make_generator(
    chat_server: ChatCompletionsServer, sleep: SleepRecorder
) -> AsyncIterator[MakeGenerator]:
    made: list[OpenAICompatibleTitleGenerator] = []

    def make(**overrides: object) -> OpenAICompatibleTitleGenerator:
        options: dict[str, object] = {
            "model": "test-model",
            "api_key": "sk-test",
            "timeout_s": 5.0,
            "max_retries": 2,
            "backoff_s": 0.0,
            "sleep": sleep,
        }
        options.update(overrides)
        base_url = str(options.pop("base_url", chat_server.base_url))
        generator = OpenAICompatibleTitleGenerator(base_url, **options)  # type: ignore[arg-type]
        made.append(generator)
        return generator

    yield make
    for generator in made:
        await generator.aclose()


async def test_generate_posts_a_bounded_chat_completion_and_cleans_the_answer(
    chat_server: ChatCompletionsServer, make_generator: MakeGenerator
) -> None:
    chat_server.script(completion('"Cooking Pasta Al Dente."'))
    title = await make_generator().generate(SOURCES)
    assert title == "Cooking Pasta Al Dente"
    [request] = chat_server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == "Bearer sk-test"
    body = request.json()
    assert body["model"] == "test-model"
    assert body["stream"] is False
    system, user = body["messages"]
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    assert user["role"] == "user"
    assert "User: How do I cook pasta al dente?" in user["content"]
    assert "Assistant: Boil salted water" in user["content"]


async def test_generate_truncates_each_message_in_the_prompt(
    chat_server: ChatCompletionsServer, make_generator: MakeGenerator
) -> None:
    chat_server.script(completion("Long message"))
    sources = [TitleSource("user", "u" * 50_000), TitleSource("assistant", "a" * 50_000)]
    await make_generator().generate(sources)
    content = chat_server.requests[0].json()["messages"][1]["content"]
    assert "u" * SOURCE_MAX_CHARS in content
    assert "u" * (SOURCE_MAX_CHARS + 1) not in content
    assert "a" * SOURCE_MAX_CHARS in content
    assert "a" * (SOURCE_MAX_CHARS + 1) not in content


async def test_generate_without_an_api_key_sends_no_authorization_header(
    chat_server: ChatCompletionsServer, make_generator: MakeGenerator
) -> None:
    chat_server.script(completion("Local model title"))
    assert await make_generator(api_key=None).generate(SOURCES) == "Local model title"
    assert "authorization" not in chat_server.requests[0].headers


async def test_generate_retries_a_500_and_returns_the_next_success(
    chat_server: ChatCompletionsServer, make_generator: MakeGenerator, sleep: SleepRecorder
) -> None:
    chat_server.script(Reply(500, b'{"error": "boom"}'), completion("Cooking pasta"))
    assert await make_generator().generate(SOURCES) == "Cooking pasta"
    assert len(chat_server.requests) == 2
    assert len(sleep.delays) == 1


async def test_generate_backs_off_exponentially_between_retries(
    chat_server: ChatCompletionsServer, make_generator: MakeGenerator, sleep: SleepRecorder
) -> None:
    chat_server.script(Reply(503), Reply(502), completion("Cooking pasta"))
    assert await make_generator(backoff_s=0.5).generate(SOURCES) == "Cooking pasta"
    assert sleep.delays == [0.5, 1.0]


async def test_generate_gives_up_after_max_retries(
    chat_server: ChatCompletionsServer, make_generator: MakeGenerator
) -> None:
    chat_server.script(Reply(500), Reply(500), Reply(500), completion("never reached"))
    with pytest.raises(TitleGenerationError, match="after 3 attempts"):
        await make_generator(max_retries=2).generate(SOURCES)
    assert len(chat_server.requests) == 3


async def test_generate_retries_a_429_honouring_retry_after(
    chat_server: ChatCompletionsServer, make_generator: MakeGenerator, sleep: SleepRecorder
) -> None:
    chat_server.script(Reply(429, b"{}", {"retry-after": "2"}), completion("Cooking pasta"))
    assert await make_generator().generate(SOURCES) == "Cooking pasta"
    assert sleep.delays == [2.0]


async def test_generate_caps_a_long_retry_after(
    chat_server: ChatCompletionsServer, make_generator: MakeGenerator, sleep: SleepRecorder
) -> None:
    chat_server.script(Reply(429, b"{}", {"retry-after": "3600"}), completion("Cooking pasta"))
    await make_generator().generate(SOURCES)
    assert sleep.delays == [MAX_RETRY_AFTER_S]


async def test_generate_fails_when_429_persists(
    chat_server: ChatCompletionsServer, make_generator: MakeGenerator
) -> None:
    chat_server.script(Reply(429), Reply(429))
    with pytest.raises(TitleGenerationError, match="429"):
        await make_generator(max_retries=1).generate(SOURCES)
    assert len(chat_server.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 404])
async def test_generate_does_not_retry_a_client_error(
    status: int, chat_server: ChatCompletionsServer, make_generator: MakeGenerator
) -> None:
    chat_server.script(Reply(status, b'{"error": {"message": "sk-test is invalid"}}'))
    with pytest.raises(TitleGenerationError, match=f"HTTP {status}") as caught:
        await make_generator().generate(SOURCES)
    assert len(chat_server.requests) == 1
    assert "sk-test" not in str(caught.value)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(200, b"<html>not json</html>"), "malformed JSON"),
        (Reply(200, b'{"choices": [{"message": {"content": "trunc'), "malformed JSON"),
        (json_reply({"id": "x", "object": "chat.completion"}), "no choices"),
        (json_reply({"choices": []}), "no choices"),
        (json_reply({"choices": [{"text": "legacy completion"}]}), "no choices"),
        (json_reply(["not", "an", "object"]), "no choices"),
        (completion(None), "not text"),
        (completion(42), "not text"),
        (completion('  ""  '), "empty title"),
        (completion("<think>The user asks about pasta.</think>"), "empty title"),
    ],
)
async def test_generate_rejects_a_malformed_response_without_retrying(
    reply: Reply, message: str, chat_server: ChatCompletionsServer, make_generator: MakeGenerator
) -> None:
    chat_server.script(reply, completion("never reached"))
    with pytest.raises(TitleGenerationError, match=message):
        await make_generator().generate(SOURCES)
    assert len(chat_server.requests) == 1


async def test_generate_drops_inline_reasoning_of_local_models(
    chat_server: ChatCompletionsServer, make_generator: MakeGenerator
) -> None:
    chat_server.script(completion("<think>\nPasta question.\n</think>\n\nCooking Pasta"))
    assert await make_generator().generate(SOURCES) == "Cooking Pasta"


async def test_generate_accepts_content_given_as_text_parts(
    chat_server: ChatCompletionsServer, make_generator: MakeGenerator
) -> None:
    chat_server.script(
        completion([{"type": "text", "text": "Cooking "}, {"type": "text", "text": "pasta"}])
    )
    assert await make_generator().generate(SOURCES) == "Cooking pasta"


async def test_generate_times_out_a_server_that_never_answers_and_retries(
    chat_server: ChatCompletionsServer, make_generator: MakeGenerator
) -> None:
    chat_server.script(Reply(hang=True), Reply(hang=True))
    with pytest.raises(TitleGenerationError, match="timed out"):
        await make_generator(timeout_s=0.05, max_retries=1).generate(SOURCES)
    assert len(chat_server.requests) == 2


async def test_generate_recovers_when_a_retry_after_a_timeout_succeeds(
    chat_server: ChatCompletionsServer, make_generator: MakeGenerator
) -> None:
    chat_server.script(Reply(hang=True), completion("Cooking pasta"))
    assert await make_generator(timeout_s=0.05).generate(SOURCES) == "Cooking pasta"


async def test_generate_retries_connection_errors(
    make_generator: MakeGenerator, sleep: SleepRecorder
) -> None:
    # A port that was just free: nothing listens there, so connecting is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    generator = make_generator(base_url=f"http://127.0.0.1:{port}/v1", max_retries=2)
    with pytest.raises(TitleGenerationError, match="ConnectError"):
        await generator.generate(SOURCES)
    assert len(sleep.delays) == 2


async def test_generate_with_no_text_fails_without_calling_the_api(
    chat_server: ChatCompletionsServer, make_generator: MakeGenerator
) -> None:
    with pytest.raises(TitleGenerationError, match="no message text"):
        await make_generator().generate([TitleSource("user", "   ")])
    assert chat_server.requests == []


async def test_aclose_leaves_a_shared_client_open(chat_server: ChatCompletionsServer) -> None:
    async with httpx.AsyncClient() as client:
        generator = OpenAICompatibleTitleGenerator(chat_server.base_url, model="m", client=client)
        chat_server.script(completion("Shared client"))
        assert await generator.generate(SOURCES) == "Shared client"
        await generator.aclose()
        assert not client.is_closed


async def test_base_url_with_a_trailing_slash_posts_to_the_same_path(
    chat_server: ChatCompletionsServer, make_generator: MakeGenerator
) -> None:
    chat_server.script(completion("Slash"))
    await make_generator(base_url=chat_server.base_url + "/").generate(SOURCES)
    assert chat_server.requests[0].path == "/v1/chat/completions"


@pytest.mark.parametrize(("option", "value"), [("timeout_s", 0), ("max_retries", -1)])
def test_constructor_rejects_impossible_limits(option: str, value: float) -> None:
    with pytest.raises(ValueError, match=option):
        OpenAICompatibleTitleGenerator("http://127.0.0.1:1/v1", model="m", **{option: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("base_url", ["localhost:11434/v1", "ftp://example.com/v1", ""])
def test_constructor_rejects_a_base_url_without_http_scheme(base_url: str) -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        OpenAICompatibleTitleGenerator(base_url, model="m")
