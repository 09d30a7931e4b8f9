"""Write a ChatGPT export (``conversations.json``) of N conversations x M messages.

The file is written one conversation at a time, so any size can be produced
with constant memory (a 250 MB export to test the import limit)::

    python -m bench.gen_chatgpt_export --conversations 1000 --messages 2 out.json

Sizes: 1000 x 2 is about 1.8 MB, 5000 x 8 about 28 MB. The content is
deterministic for a given seed. Each conversation is a chain root -> user ->
assistant -> user ... with the fields a real export carries.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

_WORDS = (
    "pasta", "water", "salt", "minutes", "boil", "taste", "sauce", "garlic", "olive",
    "oil", "recipe", "oven", "bread", "train", "ticket", "station", "museum", "weekend",
    "forecast", "sunny", "rain", "python", "function", "list", "error", "value",
    "return", "loop", "index", "string", "number", "memory", "file", "export", "import",
    "reason", "because", "however", "example", "simple", "quick", "detail", "answer",
    "question", "please", "thanks",
)  # fmt: skip
_START = 1_700_000_000.0  # 2023-11-14, seconds since 1970 as ChatGPT writes them
_MODELS = ("gpt-4o", "gpt-4o-mini", "gpt-4")
# Text length per message, tuned so sizes match the module docstring.
_WORDS_PER_MESSAGE = 10


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def conversation(index: int, messages: int, rng: random.Random) -> dict[str, Any]:
    """One ChatGPT conversation with ``messages`` user/assistant turns in a chain."""
    created = _START + index * 3_600 + rng.random()
    model = _MODELS[index % len(_MODELS)]
    root = _uuid(rng)
    ids = [_uuid(rng) for _ in range(messages)]
    mapping: dict[str, Any] = {
        root: {"id": root, "message": None, "parent": None, "children": ids[:1]}
    }
    for position, node_id in enumerate(ids):
        is_user = position % 2 == 0
        metadata: dict[str, Any] = {"request_id": f"{rng.getrandbits(64):016x}-AMS"}
        if not is_user:
            metadata.update(model_slug=model, default_model_slug=model)
            metadata["finish_details"] = {"type": "stop"}
        mapping[node_id] = {
            "id": node_id,
            "message": {
                "id": node_id,
                "author": {
                    "role": "user" if is_user else "assistant",
                    "name": None,
                    "metadata": {},
                },
                "create_time": created + 1 + position * 7.5,
                "update_time": None,
                "content": {"content_type": "text", "parts": [_sentence(rng, _WORDS_PER_MESSAGE)]},
                "status": "finished_successfully",
                "end_turn": None if is_user else True,
                "weight": 1.0,
                "metadata": metadata,
                "recipient": "all",
            },
            "parent": ids[position - 1] if position else root,
            "children": ids[position + 1 : position + 2],
        }
    return {
        "title": f"Seeded conversation {index:04d}",
        "create_time": created,
        "update_time": created + messages * 7.5,
        "mapping": mapping,
        "moderation_results": [],
        "current_node": ids[-1] if ids else root,
        "conversation_id": _uuid(rng),
        "plugin_ids": None,
        "gizmo_id": None,
        "is_archived": False,
        "safe_urls": [],
        "default_model_slug": model,
        "id": _uuid(rng),
    }


def write_export(out: IO[str], conversations: int, messages: int, *, seed: int = 0) -> None:
    """Write the export to ``out``, one conversation at a time.

    Args:
        out: A text stream to write the JSON to.
        conversations: How many conversations.
        messages: Messages per conversation (alternating user and assistant).
        seed: Seed of the content, for reproducible files.
    """
    rng = random.Random(seed)
    out.write("[")
    for index in range(conversations):
        if index:
            out.write(",\n")
        item = conversation(index, messages, rng)
        json.dump(item, out, ensure_ascii=False, separators=(",", ":"))
    out.write("]\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("out", type=Path, help="path of the JSON file to write")
    args = parser.parse_args(argv)
    if args.conversations < 0 or args.messages < 0:
        parser.error("--conversations and --messages must not be negative")
    with args.out.open("w", encoding="utf-8") as out:
        write_export(out, args.conversations, args.messages, seed=args.seed)
    size = args.out.stat().st_size
    print(f"wrote {args.out}: {args.conversations} x {args.messages}, {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
