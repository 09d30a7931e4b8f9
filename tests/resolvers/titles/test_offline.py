import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolvers.titles.clean import TITLE_MAX_CHARS
from resolvers.titles.generator import TitleSource
from resolvers.titles.offline import (
    FALLBACK_TITLE,
    WINDOW_CHARS,
    OfflineTitleGenerator,
    derive_title,
)


def conversation(user: str, assistant: str | None = None) -> list[TitleSource]:
    sources = [TitleSource("user", user)]
    if assistant is not None:
        sources.append(TitleSource("assistant", assistant))
    return sources


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("How do I cook pasta?", "How to cook pasta"),
        ("Hi! How can I cook pasta al dente?", "How to cook pasta al dente"),
        ("Can you explain quantum entanglement in simple terms?",
         "Explain quantum entanglement in simple terms"),
        ("Please write me a poem about cats", "Write a poem about cats"),
        ("I want to learn Spanish in 3 months, where should I start?",
         "Learn Spanish in 3 months"),
        ("What is a monad?", "What is a monad"),
        ("Tell me about black holes", "Black holes"),
        ("Good morning! Could you help me plan a 5-day trip to Kyoto in April?",
         "Plan a 5-day trip to Kyoto"),
        ("My iPhone won't charge anymore, what can I do?", "My iPhone won't charge anymore"),
        ("Hello world program in C", "Hello world program in C"),
        ("I need to renew my passport", "Renew my passport"),
        ("I need a workout plan for building muscle", "Workout plan for building muscle"),
        ("ok so basically my cat keeps scratching the couch, what do I do",
         "My cat keeps scratching the couch"),
        ("can u pls help me w my essay on climate change", "Help with my essay on climate change"),
        ("print(x) doesn't work", "print(x) doesn't work"),
    ],
)  # fmt: skip
async def test_offline_titles_questions_and_requests_by_their_key_clause(
    user: str, expected: str
) -> None:
    assert await OfflineTitleGenerator().generate(conversation(user)) == expected


def test_offline_title_strips_markdown_and_urls() -> None:
    user = "**Help!** My `docker compose up` fails, see https://example.com/log.txt"
    assert derive_title(conversation(user)) == "My docker compose up fails"


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (
            "Why does this throw an error?\n```python\nitems = [1, 2, 3]\n"
            "for i in range(4):\n    print(items[i])\n```",
            "Python: fix error",
        ),
        (
            '```\nTraceback (most recent call last):\n  File "main.py", line 3, in <module>\n'
            "    print(items[i])\nIndexError: list index out of range\n```",
            "Python: fix IndexError",
        ),
        (
            "def parse_config(path):\n    with open(path) as f:\n        return json.load(f)\n\n"
            "how do i make this faster?",
            "Python: optimize parse_config",
        ),
        (
            "const debounce = (fn, ms) => {\n  let t;\n  return (...args) => {\n"
            "    clearTimeout(t);\n    t = setTimeout(() => fn(...args), ms);\n  };\n};\n"
            "explain this",
            "JavaScript: explain debounce",
        ),
        (
            "I'm getting this error:\nTypeError: Cannot read properties of undefined\n"
            "    at App (App.js:12:15)\n    at renderWithHooks (react-dom.js:1:2)",
            "JavaScript: fix TypeError",
        ),
        (
            "SELECT u.name, COUNT(o.id) FROM users u LEFT JOIN orders o ON o.user_id = u.id "
            "GROUP BY u.name;\nthis is slow",
            "SQL: optimize query",
        ),
        ("```rust\nfn main() {\n    let v: Vec<i32> = Vec::new();\n}\n```", "Rust: main"),
        (
            "import pandas as pd\ndf = pd.read_csv('a.csv')\ndf.groupby('x').sum()\n\n"
            "why is this giving me a KeyError",
            "Python: fix KeyError",
        ),
        ('{\n  "name": "x",\n  "age": 3\n}\nconvert this to YAML', "JSON: Convert this to YAML"),
    ],
)
def test_offline_titles_mostly_code_messages_by_language_and_task(user: str, expected: str) -> None:
    assert derive_title(conversation(user)) == expected


def test_offline_title_of_a_question_with_a_little_inline_code_stays_prose() -> None:
    user = "How do I reverse a list in Python? I tried `x.reverse()` but it returns None."
    assert derive_title(conversation(user)) == "How to reverse a list in Python"


def test_offline_title_of_prose_around_code_names_the_language() -> None:
    user = "Warum funktioniert das nicht?\n```js\nconst x = await fetch(url)\nconsole.log(x)\n```"
    assert derive_title(conversation(user)) == "JavaScript: Warum funktioniert das nicht"


@pytest.mark.parametrize(
    ("user", "assistant", "expected"),
    [
        ("hi", "Hello! How can I help you today?", "Greeting"),
        ("hello there", "Hi there! What can I do for you today?", "Greeting"),
        ("hey", None, "Greeting"),
        ("Привет", "Привет! Чем могу помочь?", "Приветствие"),
        ("Hola, ¿qué tal?", "¡Hola! ¿En qué puedo ayudarte hoy?", "Saludo"),
        ("こんにちは", None, "挨拶"),
    ],
)
def test_offline_title_of_a_greeting_only_exchange_is_greeting_in_its_language(
    user: str, assistant: str | None, expected: str
) -> None:
    assert derive_title(conversation(user, assistant)) == expected


def test_offline_title_after_a_greeting_uses_a_substantive_assistant_reply() -> None:
    sources = conversation("hi", "Hi! Here is a summary of the attached report: revenue grew.")
    assert derive_title(sources) == "Summary of the attached report"


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("Привет! Как приготовить борщ?", "Как приготовить борщ"),
        ("Kannst du mir erklären, wie ein Verbrennungsmotor funktioniert?",
         "Erklären, wie ein Verbrennungsmotor funktioniert"),
        ("パスタの作り方を教えてください。", "パスタの作り方"),
        ("量子力学について教えてください", "量子力学"),
        ("请问怎么学习日语？", "怎么学习日语"),
        ("안녕하세요! 파이썬에서 리스트를 정렬하는 방법을 알려주세요",
         "파이썬에서 리스트를 정렬하는 방법"),
        ("Bonjour, pouvez-vous m'aider à écrire une lettre de motivation ?",
         "Écrire une lettre de motivation"),
        ("¿Cómo puedo aprender a programar en Python?",
         "Cómo puedo aprender a programar en Python"),
    ],
)  # fmt: skip
def test_offline_title_keeps_the_script_of_non_english_messages(user: str, expected: str) -> None:
    assert derive_title(conversation(user)) == expected


def test_offline_title_of_unspaced_text_is_cut_by_characters() -> None:
    user = "日本の歴史と文化と経済と政治と社会と宗教と芸術と言語と料理と建築について詳しく"
    title = derive_title(conversation(user))
    assert 0 < len(title) <= 24
    assert user.startswith(title)


def test_offline_title_reads_only_the_start_of_a_very_long_message() -> None:
    start = "Please summarise the history of the Roman Empire. "
    filler = "word " * ((WINDOW_CHARS - len(start)) // 5 + 1)
    tail_a = "```python\n" + "x = 1\n" * 10_000
    tail_b = "Hello! " * 10_000
    title_a = derive_title(conversation(start + filler + tail_a))
    title_b = derive_title(conversation(start + filler + tail_b))
    assert title_a == title_b == "Summarise the history of the Roman Empire"


def test_offline_title_of_a_long_sentence_is_capped_at_seven_words() -> None:
    user = "Describe " + "the very long and winding road that leads to your door " * 100
    title = derive_title(conversation(user))
    assert len(title.split()) <= 7
    assert title.startswith("Describe the very long")


@pytest.mark.parametrize("user", ["", "   \n\t", "```\n```", "!!!", "👍"])
def test_offline_title_of_an_empty_message_is_the_fallback_title(user: str) -> None:
    assert derive_title(conversation(user)) == FALLBACK_TITLE


def test_offline_title_without_any_messages_is_the_fallback_title() -> None:
    assert derive_title([]) == FALLBACK_TITLE


def test_offline_title_of_a_bare_link_names_the_site() -> None:
    user = "https://github.com/encode/httpx/issues/123"
    assert derive_title(conversation(user)) == "Link: github.com/encode/httpx"


def test_offline_title_is_deterministic() -> None:
    sources = conversation("Can you help me fix my bike's gears?", "Sure! First, check...")
    assert {derive_title(sources) for _ in range(5)} == {derive_title(sources)}


# No deadline: hypothesis's per-example time limit is a wall-clock threshold.
@settings(deadline=None)
@given(user=st.text(max_size=2000), assistant=st.text(max_size=500))
def test_offline_title_is_always_a_short_non_empty_title(user: str, assistant: str) -> None:
    title = derive_title(conversation(user, assistant))
    assert title
    assert title == title.strip()
    assert len(title) <= TITLE_MAX_CHARS
