"""Plain-language rules of the offline generator: a message's key clause.

Everything here is a small table or a regular expression, applied to a
bounded slice of text, so the offline generator stays deterministic and
cheap on any input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_WORDS = 7
"""Words kept from a clause; LLM titles run 3 to 7 words."""
MAX_CJK_CHARS = 24
"""Characters kept from text written without spaces (Japanese, Chinese)."""

GREETING_TITLES = {
    "en": "Greeting",
    "de": "Begrüßung",
    "ru": "Приветствие",
    "es": "Saludo",
    "fr": "Salutations",
    "it": "Saluto",
    "pt": "Saudação",
    "ja": "挨拶",
    "zh": "问候",
    "ko": "인사",
}

# A phrase must end at a separator, so "hi" never eats the start of "history".
_SEP = r"(?:[\s,!.:;…]+|$)"

_GREETINGS: dict[str, str] = {
    "en": r"(?:hi|hiya|hey|howdy|yo|greetings|hello(?!,?\s+world)"
    r"|good\s+(?:morning|afternoon|evening|day))(?:\s+there)?",
    "de": r"hallo|guten\s+(?:morgen|tag|abend)|moin|servus|grüß\s+gott|grüezi",
    "ru": r"привет(?:ствую)?|здравствуй(?:те)?|добрый\s+(?:день|вечер)|доброе\s+утро",
    "es": r"hola|buen(?:os|as)\s+(?:días|tardes|noches)",
    "fr": r"bonjour|bonsoir|salut|coucou",
    "it": r"ciao|buongiorno|buonasera",
    "pt": r"olá|oi|bom\s+dia|boa\s+(?:tarde|noite)",
    "ko": r"안녕하세요|안녕",
}
# Scripts written without spaces need no separator after the phrase.
_GREETINGS_UNSPACED: dict[str, str] = {
    "ja": r"こんにちは|こんばんは|おはよう(?:ございます)?|はじめまして|もしもし",
    "zh": r"你好|您好|哈喽|嗨",
}
_GREETING_PATTERNS = [
    (lang, re.compile(rf"^(?:{body}){_SEP}", re.IGNORECASE)) for lang, body in _GREETINGS.items()
] + [
    (lang, re.compile(rf"^(?:{body})[\s、，,！!。]*")) for lang, body in _GREETINGS_UNSPACED.items()
]

# What is left of a sentence after a greeting that still says nothing.
_SMALL_TALK = re.compile(
    r"^(?:there|everyone|all|friend|buddy|mate|(?:chat)?gpt|claude|assistant|bot"
    r"|help(?:\s+me)?|urgent|you'?re\s+welcome|no\s+worries|(?:thank\s+you|thanks)(?:\s+a\s+lot)?"
    r"|how\s+are\s+you(?:\s+doing)?(?:\s+today)?|what'?s\s+up|how'?s\s+it\s+going"
    r"|how\s+can\s+i\s+(?:help|assist)(?:\s+you)?(?:\s+today)?"
    r"|what\s+can\s+i\s+do\s+for\s+you(?:\s+today)?"
    r"|is\s+there\s+anything\s+(?:else\s+)?i\s+can\s+help(?:\s+you)?\s+with(?:\s+today)?"
    r"|nice\s+to\s+meet\s+you|wie\s+geht'?s|wie\s+geht\s+es\s+(?:dir|ihnen)|как\s+дела"
    r"|wie\s+kann\s+ich\s+(?:dir|ihnen|euch)\s+helfen|чем\s+(?:я\s+)?могу\s+(?:вам\s+|тебе\s+)?помочь"
    r"|en\s+qué\s+puedo\s+ayudar(?:te|le)?(?:\s+hoy)?|comment\s+puis-je\s+(?:vous|t')\s*aider"
    r"|qué\s+tal|ça\s+va|comment\s+ça\s+va|come\s+stai|tudo\s+bem"
    r"|お元気ですか|你好吗|잘\s*지내세요)?[\s?!.,。？！]*$",
    re.IGNORECASE,
)

# Lead-ins that carry no topic: politeness, requests to the assistant,
# an assistant's stock openers. Stripped repeatedly from a clause's start.
_FILLER = re.compile(
    r"^(?:please|pls|plz|kindly|ok(?:ay)?|so|well|um+|uh+|hmm+|thanks|thank\s+you"
    r"|basically|honestly|actually"
    r"|(?:a\s+)?quick\s+question|dear\s+\w+|hey\s+(?:chatgpt|gpt|claude)"
    r"|can\s+(?:you|u)|could\s+(?:you|u)|would\s+(?:you|u)|will\s+you"
    r"|are\s+you\s+able\s+to|is\s+it\s+possible\s+for\s+you\s+to"
    r"|i\s+(?:want|need|wanted)\s+(?:you\s+)?to|i\s+wanna|i'?d\s+like\s+(?:you\s+)?to"
    r"|i\s+would\s+like\s+(?:you\s+)?to|i'?m\s+trying\s+to|i\s+am\s+trying\s+to"
    r"|i\s+was\s+wondering\s+if(?:\s+you\s+could)?|i\s+wonder\s+if|do\s+you\s+know"
    r"|i\s+have\s+a\s+(?:quick\s+)?question(?:\s+about)?|let'?s|let\s+us"
    # After "i need to": alternatives are tried in order, and the longer must win.
    r"|i\s+need|i'?m\s+looking\s+for|looking\s+for"
    r"|sure|certainly|of\s+course|absolutely|no\s+problem|great\s+question|good\s+question"
    r"|i'?d\s+be\s+(?:happy|glad)\s+to\s+help(?:\s+you)?(?:\s+with\s+that)?"
    r"|i\s+can\s+help(?:\s+you)?(?:\s+with\s+that)?|here'?s|here\s+is|here\s+are"
    # German, Russian, Spanish, French, Italian, Portuguese.
    r"|bitte|kannst\s+du(?:\s+mir)?|könntest\s+du(?:\s+mir)?|können\s+sie(?:\s+mir)?"
    r"|könnten\s+sie(?:\s+mir)?|ich\s+möchte|ich\s+will|ich\s+brauche|sag\s+mir"
    r"|пожалуйста|подскажи(?:те)?|скажи(?:те)?|можешь|можете|помоги(?:те)?(?:\s+мне)?"
    r"|я\s+хочу|мне\s+нужно"
    r"|por\s+favor|puedes|podrías|quiero|necesito|ayúdame(?:\s+a)?"
    r"|s'il\s+(?:te|vous)\s+pla[iî]t|peux-tu|pouvez-vous|pourrais-tu|pourriez-vous"
    r"|je\s+veux|je\s+voudrais|j'aimerais|aide-moi(?:\s+à)?|m'aider(?:\s+à)?"
    r"|per\s+favore|puoi|potresti|vorrei|por\s+favor|você\s+pode|pode|quero|preciso"
    rf"){_SEP}",
    re.IGNORECASE,
)
_FILLER_UNSPACED = re.compile(
    r"^(?:请问|请|麻烦你?|帮我|你能|能不能|可以|すみません|あの)[、，,\s]*"
)

# Rewrites that turn a request into a title: (pattern, replacement).
_REWRITES = [
    (r"^how\s+(?:do|can|should|could|would|might)\s+(?:i|we|you|one)\b", "how to"),
    (r"^how\s+does\s+one\b", "how to"),
    (r"^(?:is\s+there\s+(?:a|any)\s+way|is\s+it\s+possible)\s+to\b", "how to"),
    (r"^(?:what\s+is|what'?s)\s+the\s+best\s+way\s+to\b", "best way to"),
    (r"^(?:give|show|tell|find|send)\s+(?:me|us)(?:\s+about)?\s+", ""),
    (r"^(write|make|create|draw|generate|build|teach|recommend|suggest)\s+(?:me|us)\b", r"\1"),
    (r"^explain\s+to\s+me\b", "explain"),
    (r"^help\s+me\s+(?:with\b|w/|w\s)", "help with "),
    (r"^help\s+me(?:\s+to)?\s+", ""),
    (r"^(?:an?)\s+(?=\w)", ""),
]
_REWRITE_PATTERNS = [(re.compile(p, re.IGNORECASE), r) for p, r in _REWRITES]
# Japanese, Chinese and Korean put the request at the end: "...を教えてください".
_TRAILING_REQUEST = re.compile(
    r"(?:について)?(?:を)?(?:教えて(?:ください|下さい|くれ|ほしい)?|お願いします|お願い"
    r"|してください|して下さい|ください|下さい)$|(?:吗|呢|啊)$"
    r"|(?:을|를)?\s*(?:알려|가르쳐|설명해)\s*주세요$"
)

# fmt: off
_TRAILING_STOPWORDS = frozenset([
    "a", "an", "the", "of", "to", "in", "on", "for", "and", "or", "with", "at", "by", "from",
    "my", "your", "our", "is", "are", "was", "that", "which", "about", "into", "as", "but",
    "so", "if", "when", "how", "what", "und", "oder", "der", "die", "das", "mit", "für", "von",
    "zu", "и", "в", "на", "с", "по", "для", "или"
])
# fmt: on

_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
# URLs become this mark, so a clause can be cut where its link was.
_URL_MARK = "\x00"
# fmt: off
_POINTERS = frozenset([
    "see", "at", "here", "from", "via", "on", "in", "link", "url", "this", "check", "visit", "read",
])
# fmt: on
URL = re.compile(r"\b(?:https?://|www\.)[^\s<>()\[\]]+", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]{0,200}>")
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_LINE_MARK = re.compile(r"^[ \t]{0,3}(?:#{1,6}|>|[-*+•]|\d{1,3}[.)])[ \t]+", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+|(?<=[。！？])")
# A colon that separates a label from its text, not the one in "10:30".
_LABEL_COLON = re.compile(r":\s+|：")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LETTER = re.compile(r"[^\W\d_]")


_CODE_CHARS = frozenset("()[]{}_./=<>$@#")


@dataclass(frozen=True, slots=True)
class ProseTitle:
    """What the prose rules found in one message."""

    title: str
    """The key clause as a title, or ``""`` when the message has none."""
    greeting: str | None
    """Language code of a greeting the message opened with, if any."""
    link: str
    """``"Link: host/path"`` when the message was only a link, else ``""``."""


def plain_text(text: str) -> str:
    """Strip markdown marks, HTML tags and URLs, keeping the words."""
    text = text.replace("\u2019", "'").replace("\r", "")
    text = _IMAGE.sub(" ", text)
    text = _LINK.sub(r"\1", text)
    text = URL.sub(_URL_MARK, text)
    text = _HTML_TAG.sub(" ", text)
    text = _INLINE_CODE.sub(r"\1", text)
    text = _LINE_MARK.sub("", text)
    text = text.replace("**", "").replace("~~", "").replace("|", " ")
    return text


def _drop_urls(clause: str) -> str:
    # "It fails, see <url>": the words before a link usually point at it, and
    # once the link is gone they dangle.
    before, _, after = clause.partition(_URL_MARK)
    words = before.split()
    while words and _bare(words[-1]) in _POINTERS:
        words.pop()
    if len(words) >= 2:
        return " ".join(words)
    return " ".join(before.split() + after.replace(_URL_MARK, " ").split())


def prose_title(text: str) -> ProseTitle:
    """Derive a title from the first substantive sentence of ``text``.

    Args:
        text: one message, already cut to the generator's window.

    Returns:
        The title (``""`` when every sentence is a greeting, small talk or
        filler), the language of a greeting seen on the way, and a link
        title for a message that held nothing but a URL.
    """
    greeting: str | None = None
    for sentence in _SENTENCE_END.split(plain_text(text)):
        clause, greeted = _strip_lead_ins(sentence)
        greeting = greeting or greeted
        if not clause:
            continue
        title = _shorten(clause)
        # One letter is a fragment ("x" from '"name": "x"'), not a topic.
        if len(_LETTER.findall(title)) >= 2:
            return ProseTitle(title=title, greeting=greeting, link="")
    return ProseTitle(title="", greeting=greeting, link=_link_title(text))


def _strip_lead_ins(sentence: str) -> tuple[str, str | None]:
    clause = sentence.strip()
    greeting: str | None = None
    changed = True
    while changed and clause:
        changed = False
        clause = clause.lstrip(" ,!.:;…-–—¿¡")
        for lang, pattern in _GREETING_PATTERNS:
            match = pattern.match(clause)
            if match:
                greeting = greeting or lang
                clause = clause[match.end() :]
                changed = True
        for pattern in (_FILLER, _FILLER_UNSPACED):
            match = pattern.match(clause)
            if match and match.end() > 0:
                clause = clause[match.end() :]
                changed = True
    if _SMALL_TALK.match(clause):
        return "", greeting
    for rewrite, replacement in _REWRITE_PATTERNS:
        clause = rewrite.sub(replacement, clause, count=1)
    clause = _TRAILING_REQUEST.sub("", clause.rstrip(" ?!.。？！")).strip()
    return clause, greeting


def _shorten(clause: str) -> str:
    # A short label before a colon ("Quick question: ...") is noise; a long
    # one is the topic and what follows is detail.
    clause = _drop_urls(clause)
    parts = _LABEL_COLON.split(clause, maxsplit=1)
    if len(parts) == 2 and parts[1].strip():
        clause = parts[1] if len(parts[0].split()) <= 2 else parts[0]
    clause = clause.strip(" \t-–—,;:\"'“”«»()[]¿¡")
    if _is_unspaced(clause):
        title = _cut_unspaced(clause)
    else:
        words = clause.split()
        cut = len(words) > MAX_WORDS
        if cut:
            # "My iPhone won't charge anymore, what can I do": the clause
            # before a comma is the topic when it is long enough to stand alone.
            comma = next((i for i, w in enumerate(words[:MAX_WORDS]) if w.endswith(",")), None)
            if comma is not None and comma >= 2:
                words = words[: comma + 1]
        words = words[:MAX_WORDS]
        while cut and len(words) > 2 and _bare(words[-1]) in _TRAILING_STOPWORDS:
            words.pop()
        title = " ".join(words)
        if title.count("(") > title.count(")"):
            title = title[: title.rfind("(")]
    title = title.rstrip(" ,;:.!?…-–—\"'“”«»(")
    return _capitalise(title)


def _bare(word: str) -> str:
    return word.strip(",;:.!?\"'()").lower()


def _is_unspaced(clause: str) -> bool:
    letters = len(_LETTER.findall(clause))
    return letters > 0 and len(_CJK.findall(clause)) * 10 >= letters * 3


def _cut_unspaced(clause: str) -> str:
    if len(clause) <= MAX_CJK_CHARS:
        return clause
    # Prefer ending at an enumeration comma over cutting through a word.
    head = clause[:MAX_CJK_CHARS]
    comma = max(head.rfind("、"), head.rfind("，"), head.rfind(","))
    return head[:comma] if comma >= MAX_CJK_CHARS // 3 else head


def _capitalise(title: str) -> str:
    first = title.split(" ", 1)[0]
    # "iPhone", "macOS", "pH": a word already mixing cases is a name;
    # "print(x)", "npm", "df.head": code keeps its case.
    if (
        not first
        or not first[0].islower()
        or any(ch.isupper() for ch in first[1:])
        or any(ch in _CODE_CHARS for ch in first)
    ):
        return title
    return first[0].upper() + title[1:]


def _link_title(text: str) -> str:
    match = URL.search(text)
    if match is None:
        return ""
    raw = match.group(0).rstrip(".,;:!?'\"")
    parts = urlsplit(raw if "://" in raw else "https://" + raw)
    host = (parts.hostname or "").removeprefix("www.")
    if not host:
        return ""
    path = "/".join([segment for segment in parts.path.split("/") if segment][:2])
    return f"Link: {host}/{path}" if path else f"Link: {host}"
