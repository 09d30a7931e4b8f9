"""Code rules of the offline generator: language, task and subject of a snippet."""

from __future__ import annotations

import re
from dataclasses import dataclass

from resolvers.titles.offline_prose import URL, plain_text, prose_title

_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)

# fmt: off
_FENCE_LANGUAGES = {
    "py": "Python", "python": "Python", "python3": "Python", "pycon": "Python",
    "js": "JavaScript", "javascript": "JavaScript", "jsx": "JavaScript", "node": "JavaScript",
    "ts": "TypeScript", "typescript": "TypeScript", "tsx": "TypeScript",
    "java": "Java", "kotlin": "Kotlin", "kt": "Kotlin", "scala": "Scala", "swift": "Swift",
    "c": "C", "h": "C", "cpp": "C++", "c++": "C++", "cc": "C++", "hpp": "C++",
    "cs": "C#", "csharp": "C#", "c#": "C#", "go": "Go", "golang": "Go",
    "rs": "Rust", "rust": "Rust", "rb": "Ruby", "ruby": "Ruby", "php": "PHP",
    "sh": "Shell", "bash": "Shell", "shell": "Shell", "zsh": "Shell", "console": "Shell",
    "powershell": "PowerShell", "ps1": "PowerShell", "sql": "SQL", "postgresql": "SQL",
    "mysql": "SQL", "html": "HTML", "xml": "XML", "css": "CSS", "scss": "SCSS",
    "json": "JSON", "yaml": "YAML", "yml": "YAML", "toml": "TOML", "r": "R",
    "dockerfile": "Dockerfile", "docker": "Dockerfile", "lua": "Lua", "dart": "Dart",
    "haskell": "Haskell", "hs": "Haskell", "elixir": "Elixir", "ex": "Elixir",
    "vue": "Vue", "svelte": "Svelte", "graphql": "GraphQL", "terraform": "Terraform",
    "hcl": "Terraform", "makefile": "Makefile", "latex": "LaTeX", "tex": "LaTeX",
}
# fmt: on

# Signals per language; the language matching most distinct signals wins,
# earlier entries on a tie (TypeScript before JavaScript, C++ before C).
# fmt: off
_SIGNALS: list[tuple[str, list[str]]] = [
    ("Python", [
        r"^\s*def \w+\(.*\)\s*(?:->.*)?:\s*$", r"^\s*(?:from [\w.]+ )?import \w", r"\bprint\(",
        r"\bself\.", r"^\s*elif\b", r"Traceback \(most recent call last\)", r"\bNone\b",
        r"^\s*(?:if|for|while|with|try|except|else)\b.*:\s*$", r"\blen\(", r"__\w+__",
    ]),
    ("TypeScript", [
        r":\s*(?:string|number|boolean|any|void)\b", r"^\s*(?:export\s+)?interface \w+",
        r"^\s*(?:export\s+)?type \w+\s*=", r"\bas const\b",
    ]),
    ("JavaScript", [
        r"\bconst \w+\s*=", r"\blet \w+\s*=", r"=>", r"\bconsole\.\w+\(", r"\bfunction\s*\w*\s*\(",
        r"\bdocument\.", r"\brequire\(", r"\bundefined\b", r"===",
    ]),
    ("Java", [r"\bpublic\s+(?:static\s+)?(?:class|void|int)\b", r"System\.out\.print",
              r"String\[\]\s+args", r"\bprivate\s+final\b", r"\bnew \w+<"]),
    ("C#", [r"^\s*using System", r"\bConsole\.Write", r"^\s*namespace \w+", r"\bvar \w+ = new\b"]),
    ("C++", [r"\bstd::", r"\bcout\s*<<", r"#include\s*<(?:iostream|vector|string)>", r"\bauto\b"]),
    ("C", [r"#include\s*<", r"\bprintf\(", r"\bint main\(", r"\bmalloc\(", r"->\w+"]),
    ("Go", [r"^\s*package \w+", r"\bfunc \w*\(", r"\bfmt\.", r":=", r"\berr != nil\b"]),
    ("Rust", [r"\bfn \w+\(", r"\blet mut\b", r"\bprintln!", r"^\s*impl\b", r"::new\(",
              r"\.unwrap\(\)"]),
    ("PHP", [r"<\?php", r"\$\w+\s*=", r"\becho\b.*;", r"->\w+\("]),
    ("Ruby", [r"^\s*def \w+[?!]?\s*$", r"^\s*end\s*$", r"\bputs\b", r"\.each do\b"]),
    ("SQL", [r"(?i)\bselect\b.+\bfrom\b", r"(?i)\binsert\s+into\b", r"(?i)\bcreate\s+table\b",
             r"(?i)\bupdate\s+\w+\s+set\b", r"(?i)\b(?:inner|left|right)\s+join\b",
             r"(?i)\bwhere\b.+=", r"(?i)\bgroup\s+by\b"]),
    ("HTML", [r"(?i)<!doctype html", r"(?i)<(?:html|head|body|div|span|ul|li|table|form)\b"]),
    ("CSS", [r"^\s*[.#]?[\w-][\w\s.#:>,-]*\{\s*$", r"^\s*[\w-]+\s*:\s*[^;]+;\s*$"]),
    ("JSON", [r"^\s*[{\[]\s*$", r"^\s*\"[^\"]+\"\s*:\s*[\"\d\[{tfn-]"]),
    ("Shell", [r"^#!/bin/(?:ba|z)?sh", r"^\s*\$\s+\w", r"^\s*(?:sudo|apt(?:-get)?|brew|npm|pip3?|"
               r"git|cd|ls|echo|export|curl|docker|kubectl|chmod|systemctl)\s"]),
]
# fmt: on
_SIGNAL_PATTERNS = [
    (lang, [re.compile(p, re.MULTILINE) for p in patterns]) for lang, patterns in _SIGNALS
]

# A line that reads as code rather than prose, for messages without fences.
_CODE_LINE = re.compile(
    r"[;{}]\s*$|^\s*[{}]|^\s*(?:def|class|import|from\s+\S+\s+import|return|function|const|let"
    r"|var|public|private|protected|fn|func|package|using|#include|@\w+|if\s*\(|for\s*\("
    r"|while\s*\(|print\(|console\.|SELECT|INSERT|UPDATE|DELETE|CREATE|//|/\*|#!|\$ |>>> )"
    r"|^\s*[\w.\[\]\"']+\s*(?:[+\-*/]?=|:=)\s*\S|=>|^\s*</?[a-zA-Z]"
    r"|^\s*File \".*\", line \d+|^Traceback \(|^\s*at \S+ \(.*:\d+:\d+\)|^\w+(?:Error|Exception):"
    r"|^(?: {4}|\t)\S|^\s*\"[\w\s.-]+\"\s*:"  # indented, or a JSON key
    r"|^\s*[\w.\[\]'\"]+\(.*\)[\w.()\[\]'\"]*;?\s*$",  # a bare call: df.groupby('x').sum()
)
_ERROR_NAME = re.compile(r"\b([A-Z]\w*(?:Error|Exception))\b|\b((?i:segmentation fault))\b")
_DEFINED_NAME = re.compile(
    r"\b(?:def|class|function|fn|func|interface|struct)\s+([A-Za-z_]\w{2,})"
    r"|\b(?:const|let|var)\s+([A-Za-z_]\w{2,})\s*=\s*(?:async\s*)?(?:\(|function)"
)

# Task words in the prose around a snippet, first match wins: a question
# that mentions an error is about fixing it even when it says "explain".
# fmt: off
_TASKS = [
    ("fix", r"\b(?:fix|debug|bugs?|errors?|crash\w*|broken|wrong|fail\w*|issue|problem"
            r"|(?:does ?n[o']?t|won'?t|not) work\w*|exception|traceback|throws?|raises?)\b"),
    ("optimize", r"\b(?:optimi[sz]e|faster|speed(?:\s+it)?\s+up|performance|slow)\b"),
    ("refactor", r"\b(?:refactor|clean(?:\s+it)?\s+up|simplify|improve|more readable)\b"),
    ("write tests for", r"\b(?:unit tests?|write tests?|test cases?|tests? for)\b"),
    ("document", r"\b(?:docstrings?|document|comments?)\b"),
    ("convert", r"\b(?:convert|translate|port)\b"),
    ("review", r"\b(?:review|feedback)\b"),
    ("explain", r"\b(?:explain|what does|understand|how does|meaning|walk me through)\b"),
]
# fmt: on
_MENTIONS_ERROR = re.compile(r"\b(?:errors?|exceptions?|throws?|raises?|crash\w*)\b", re.I)
_TASK_PATTERNS = [(verb, re.compile(p, re.IGNORECASE)) for verb, p in _TASKS]

# Words that say "look at my code" without naming a topic.
# fmt: off
_GENERIC = frozenset([
    "this", "that", "these", "it", "its", "it's", "the", "a", "an", "my", "your", "code",
    "function", "method", "class", "script", "program", "snippet", "following", "below",
    "above", "here", "is", "are", "what", "what's", "whats", "why", "does", "do", "doesn't",
    "dont", "don't", "not", "work", "works", "working", "wrong", "with", "fix", "error",
    "errors", "help", "please", "me", "can", "could", "you", "i", "in", "of", "to", "for", "on",
    "and", "or", "explain", "debug", "review", "look", "at", "check", "optimize", "refactor",
    "improve", "issue", "problem", "bug", "get", "getting", "how", "make", "should", "thanks",
    "anything", "something", "there", "any", "run", "running", "output", "give", "gives",
    "returns", "line", "lines"
])
# fmt: on

_NOUNS = {"SQL": "query", "Shell": "command", "HTML": "markup", "CSS": "styles", "JSON": "data"}


@dataclass(frozen=True, slots=True)
class Snippet:
    """A message split into the code it carries and the prose around it."""

    code: str
    prose: str
    language: str | None


def find_snippet(text: str) -> Snippet | None:
    """Return the code in ``text`` when code is most of the message.

    Fenced blocks count as code (an unclosed fence runs to the end of the
    slice); without fences, lines that read as code do. A short question
    with a one-line inline snippet is prose and gets a prose title.

    Args:
        text: one message, already cut to the generator's window.

    Returns:
        The snippet, or None when the message is mostly prose.
    """
    fences = list(_FENCE.finditer(text))
    if fences:
        code = "\n".join(match.group(2) for match in fences)
        prose = _FENCE.sub("\n", text)
        info = next((m.group(1).lower() for m in fences if m.group(1)), "")
        language = _FENCE_LANGUAGES.get(info) or guess_language(code)
    else:
        lines = [line for line in text.splitlines() if line.strip()]
        code_lines = [line for line in lines if _CODE_LINE.search(line)]
        # One long line of code ("SELECT ... ;") counts; one short line is
        # more likely a phrase that happens to end in a brace or semicolon.
        if not code_lines or (len(code_lines) == 1 and len(code_lines[0].strip()) < 40):
            return None
        code = "\n".join(code_lines)
        prose = "\n".join(line for line in lines if not _CODE_LINE.search(line))
        language = guess_language(code)
    prose_chars = len(URL.sub("", plain_text(prose)).strip())
    if len(code.strip()) < max(prose_chars, 1):
        return None
    return Snippet(code=code, prose=prose, language=language)


def guess_language(code: str) -> str | None:
    """Name the programming language ``code`` is most likely written in."""
    best, best_score = None, 0
    for language, patterns in _SIGNAL_PATTERNS:
        score = sum(1 for pattern in patterns if pattern.search(code))
        if score > best_score:
            best, best_score = language, score
    return best


def code_title(snippet: Snippet) -> str:
    """Title a snippet as ``"<Language>: <task> <subject>"``.

    The task comes from the prose ("why does this crash" → fix), the
    subject from an error name or the first defined function or class;
    prose that names its own topic is kept instead.
    """
    language = snippet.language or "Code"
    error = _ERROR_NAME.search(snippet.prose) or _ERROR_NAME.search(snippet.code)
    error_name = (error.group(1) or error.group(2).lower()) if error else None
    defined = _DEFINED_NAME.search(snippet.code)
    defined_name = (defined.group(1) or defined.group(2)) if defined else None
    task = next((verb for verb, p in _TASK_PATTERNS if p.search(snippet.prose)), None)
    if task is None and error_name:
        task = "fix"  # a bare traceback asks for a fix
    subject = error_name if task == "fix" and error_name else defined_name
    prose = prose_title(snippet.prose).title
    specific = [w for w in prose.lower().split() if w.strip(",.?!:;") not in _GENERIC]
    if task and subject:
        return f"{language}: {task} {subject}"
    if len(specific) >= 2:
        return f"{language}: {prose}"
    noun = _NOUNS.get(language, "code")
    if task == "fix" and noun == "code" and _MENTIONS_ERROR.search(snippet.prose):
        noun = "error"
    if task:
        return f"{language}: {task} {noun}"
    if defined_name:
        return f"{language}: {defined_name}"
    return f"{language} {noun}" if snippet.language else "Code snippet"
