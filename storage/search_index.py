"""A message search index beside the process: SQLite FTS5 with the trigram tokenizer.

(Over 400 lines on purpose: the index file, the case folding it relies on and
the MongoDB confirmation of what it proposes are one contract; split, each
half would be wrong without the other.)

Today's semantics are a case-insensitive literal substring of a message's
``text`` or any ``content[].text``. Trigrams answer substring queries of 3 or
more characters; shorter terms are the scan's (resolvers/operations/search.py).

The index only *proposes*: MongoDB confirms (``confirmed_conversations``), so a
stale row costs a lookup, never a wrong hit. It must never *miss*, so both
sides are folded with :func:`normalize`, which merges at least every pair of
characters a case-insensitive regex treats as equal (and sometimes more; the
confirmation removes those).

Why SQLite FTS5 beside each process (measured in bench/search.py): the
standard library has it, a lookup costs milliseconds, and it needs no server
feature (SecantusDB has no text indexes; an index collection in MongoDB would
cost a round trip per trigram). Each replica follows the change feed into its
own file; ``convos-gateway reindex`` rebuilds it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bson import ObjectId

from storage.change_feed import Change
from storage.database import CONVERSATIONS, MESSAGES, Database, Document

log = logging.getLogger(__name__)

MIN_TERM = 3  # the trigram tokenizer's shortest answerable term
# Bumped when the file's tables change: an older file is rebuilt on start.
_SCHEMA = "2"
_BUILD_BATCH = 2000
_CONFIRM_CHUNK = 5000
# Proposed messages kept per conversation; past them a scan of that conversation.
_CANDIDATES_PER_CONVERSATION = 3
# Rounds of "try another candidate message" before the bounded scan fallback.
_CONFIRM_ROUNDS = 3
_SEPARATOR = "\u0001"  # between a message's text parts: never in a folded term
# Case pairs that Unicode's upper/lower round trip leaves apart but a
# case-insensitive regex joins (Python's sre and PCRE alike).
_FIXES = {"\u0130": "i", "\u1fd3": "\u0390", "\u1fe3": "\u03b0", "\ufb05": "\ufb06"}


def _fold_char(c: str) -> str:
    fixed = _FIXES.get(c)
    if fixed is not None:
        return fixed
    low = c.lower()
    if len(low) != 1:
        return c
    up = low.upper()
    if len(up) != 1:
        return low
    again = up.lower()
    return again if len(again) == 1 else low


_FOLDED: dict[str, str] = {}


def normalize(text: str) -> str:
    """Fold case character by character (lengths kept, so substrings stay substrings)."""
    out = []
    for c in text:
        f = _FOLDED.get(c)
        if f is None:
            f = _FOLDED[c] = "\ufffd" if c == "\x00" else _fold_char(c)
        out.append(f)
    return "".join(out)


def searchable(text: str) -> bool:
    """Whether the index can answer ``text`` (else: the bounded scan)."""
    return len(text) >= MIN_TERM


def message_parts(doc: Document) -> tuple[str, str]:
    """A message's ``text`` and its ``content[].text`` parts, folded."""
    text = doc.get("text")
    content = doc.get("content")
    # MongoDB's "content.text" reaches into an array of parts or one sub-document.
    items = content if isinstance(content, list) else [content]
    parts = [p["text"] for p in items if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return (
        normalize(text) if isinstance(text, str) else "",
        _SEPARATOR.join(normalize(p) for p in parts),
    )


_CANDIDATES_SQL = (
    "SELECT d.conversation_id, d.msg_id FROM fts JOIN docs d ON d.rowid = fts.rowid "
    "WHERE fts MATCH ? AND d.user = ? ORDER BY d.rowid"
)


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


class SearchIndex:
    """The index file (or memory) and its state; every SQLite call runs in a thread."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            str(path) if path is not None else ":memory:", check_same_thread=False
        )
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(
                """
                PRAGMA journal_mode=WAL;
                PRAGMA synchronous=NORMAL;
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
                CREATE TABLE IF NOT EXISTS docs (
                    rowid INTEGER PRIMARY KEY, msg_id TEXT UNIQUE NOT NULL,
                    conversation_id TEXT NOT NULL, user TEXT NOT NULL);
                CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
                    text, content, tokenize='trigram case_sensitive 1');
                CREATE TABLE IF NOT EXISTS convs (
                    oid TEXT PRIMARY KEY, conversation_id TEXT NOT NULL,
                    user TEXT NOT NULL, title TEXT NOT NULL, tags TEXT NOT NULL);
                CREATE INDEX IF NOT EXISTS convs_user ON convs (user);
                """
            )
            self.instance_id = self._meta("instance") or self._new_instance()
            self.ready = self._meta("built") == "1" and self._meta("schema") == _SCHEMA
        self.building = False
        # Set by the owner (the change feed's caught_up): waits until every
        # change committed before the call is in the index (False if that
        # cannot be shown in time). None = the caller keeps it current.
        self.caught_up: Callable[[float], Awaitable[bool]] | None = None
        self._pending: list[Sequence[Change]] = []
        self._build_task: asyncio.Task[None] | None = None
        self.rows_indexed = 0

    # --- meta ---------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _new_instance(self) -> str:
        instance = uuid.uuid4().hex
        self._set_meta("instance", instance)
        self._db.commit()
        return instance

    @property
    def checkpoint(self) -> str:
        """The change feed checkpoint name this index's progress is kept under."""
        return f"search-index:{self.instance_id}"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- writes -------------------------------------------------------------

    def _upsert(self, docs: Iterable[Document]) -> None:
        with self._lock:
            for doc in docs:
                msg_id = str(doc["_id"])
                user, cid = doc.get("user"), doc.get("conversationId")
                self._delete_one(msg_id)
                if not isinstance(user, str) or not isinstance(cid, str):
                    continue
                text, content = message_parts(doc)
                cursor = self._db.execute(
                    "INSERT INTO docs (msg_id, conversation_id, user) VALUES (?, ?, ?)",
                    (msg_id, cid, user),
                )
                self._db.execute(
                    "INSERT INTO fts (rowid, text, content) VALUES (?, ?, ?)",
                    (cursor.lastrowid, text, content),
                )
            self._db.commit()

    def _upsert_conversations(self, docs: Iterable[Document]) -> None:
        """Keep each conversation's owner, folded title and tags (what search
        matches besides messages), keyed by its ``_id`` (what a delete names)."""
        with self._lock:
            for doc in docs:
                user, cid = doc.get("user"), doc.get("conversationId")
                if not isinstance(user, str) or not isinstance(cid, str):
                    self._db.execute("DELETE FROM convs WHERE oid = ?", (str(doc["_id"]),))
                    continue
                title = doc.get("title")
                tags = doc.get("tags")
                names = tags if isinstance(tags, list) else [tags]
                self._db.execute(
                    "INSERT OR REPLACE INTO convs VALUES (?, ?, ?, ?, ?)",
                    (
                        str(doc["_id"]),
                        cid,
                        user,
                        normalize(title) if isinstance(title, str) else "",
                        _SEPARATOR.join(normalize(t) for t in names if isinstance(t, str)),
                    ),
                )
            self._db.commit()

    def _delete_conversations(self, oids: Iterable[str]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM convs WHERE oid = ?", [(o,) for o in oids])
            self._db.commit()

    def _delete_one(self, msg_id: str) -> None:
        row = self._db.execute("SELECT rowid FROM docs WHERE msg_id = ?", (msg_id,)).fetchone()
        if row is not None:
            self._db.execute("DELETE FROM fts WHERE rowid = ?", (row[0],))
            self._db.execute("DELETE FROM docs WHERE rowid = ?", (row[0],))

    def _delete(self, msg_ids: Iterable[str]) -> None:
        with self._lock:
            for msg_id in msg_ids:
                self._delete_one(msg_id)
            self._db.commit()

    def _clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM docs")
            self._db.execute("DELETE FROM fts")
            self._db.execute("DELETE FROM convs")
            self._set_meta("built", "0")
            self._set_meta("schema", _SCHEMA)
            self._db.commit()

    def _mark_built(self) -> None:
        with self._lock:
            self._set_meta("built", "1")
            self._db.commit()

    # --- reads --------------------------------------------------------------

    def _candidates(
        self, user: str, term: str, exclude: frozenset[str]
    ) -> dict[str, list[tuple[str, str]]]:
        """Per field, one (conversation id, message id) per conversation."""
        found: dict[str, list[tuple[str, str]]] = {}
        with self._lock:
            for field in ("text", "content"):
                rows = self._db.execute(
                    _CANDIDATES_SQL,
                    (f"{field} : {_phrase(term)}", user),
                ).fetchall()
                seen: set[str] = set()
                pairs = []
                for cid, msg_id in rows:
                    if cid in seen or msg_id in exclude:
                        continue
                    seen.add(cid)
                    pairs.append((cid, msg_id))
                found[field] = pairs
        return found

    # --- async API ----------------------------------------------------------

    async def current(self, timeout_s: float = 1.0) -> bool:
        """Whether the index can answer now: built, and the feed caught up with
        every write made before this call (LibreChat's included)."""
        if not self.ready:
            return False
        return self.caught_up is None or await self.caught_up(timeout_s)

    async def apply(self, database: Database, changes: Sequence[Change]) -> None:
        """The change feed subscriber: keep message rows current."""
        if self.building:
            self._pending.append(changes)
            return
        for collection, upsert, delete in (
            (MESSAGES, self._upsert, self._delete),
            (CONVERSATIONS, self._upsert_conversations, self._delete_conversations),
        ):
            upserts, deletes = await _sorted_changes(database, collection, changes)
            if deletes:
                await asyncio.to_thread(delete, deletes)
            if upserts:
                await asyncio.to_thread(upsert, upserts)

    def schedule_rebuild(self, database: Database) -> None:
        """Rebuild in the background; searches use the scan meanwhile."""
        if self._build_task is None or self._build_task.done():
            self._build_task = asyncio.create_task(self.rebuild(database), name="search-index")

    async def stop(self) -> None:
        if self._build_task is not None:
            self._build_task.cancel()
            await asyncio.gather(self._build_task, return_exceptions=True)

    async def rebuild(self, database: Database) -> None:
        """Index every message in the database, logging progress."""
        self.building = True
        self.ready = False
        started = time.monotonic()
        try:
            await asyncio.to_thread(self._clear)
            conversations = database.conversations.find(
                {}, {"user": 1, "conversationId": 1, "title": 1, "tags": 1}, batch_size=_BUILD_BATCH
            )
            rows: list[Document] = []
            async for doc in conversations:
                rows.append(doc)
                if len(rows) >= _BUILD_BATCH:
                    await asyncio.to_thread(self._upsert_conversations, rows)
                    rows = []
            await asyncio.to_thread(self._upsert_conversations, rows)
            total = await database.messages.estimated_document_count()
            log.info("search index: building from %d messages", total)
            done = 0
            last_log = started
            cursor = database.messages.find(
                {},
                {"user": 1, "conversationId": 1, "text": 1, "content.text": 1},
                sort=[("_id", 1)],
                batch_size=_BUILD_BATCH,
            )
            batch: list[Document] = []
            async for doc in cursor:
                batch.append(doc)
                if len(batch) >= _BUILD_BATCH:
                    await asyncio.to_thread(self._upsert, batch)
                    done += len(batch)
                    batch = []
                    if time.monotonic() - last_log > 5:
                        last_log = time.monotonic()
                        log.info("search index: %d / ~%d messages", done, total)
            await asyncio.to_thread(self._upsert, batch)
            done += len(batch)
            self.building = False
            while self._pending:
                await self.apply(database, self._pending.pop(0))
            await asyncio.to_thread(self._mark_built)
            self.rows_indexed = done
            self.ready = True
            log.info(
                "search index: %d messages indexed in %.1f s", done, time.monotonic() - started
            )
        finally:
            self.building = False

    async def proposals(self, user: str, text: str) -> Proposals:
        """What the index proposes for ``text`` (``searchable``), unconfirmed."""
        return await asyncio.to_thread(self._proposals, user, normalize(text))

    def _proposals(self, user: str, term: str) -> Proposals:
        found = Proposals()
        with self._lock:
            rows = self._db.execute(_CANDIDATES_SQL, (_phrase(term), user)).fetchall()
            convs = self._db.execute(
                "SELECT conversation_id, oid, instr(title, ?) > 0 OR instr(tags, ?) > 0 "
                "FROM convs WHERE user = ?",
                (term, term, user),
            ).fetchall()
        for cid, msg_id in rows:
            ids = found.by_messages.setdefault(cid, [])
            if len(ids) < _CANDIDATES_PER_CONVERSATION:
                ids.append(msg_id)
        for cid, oid, by_fields in convs:
            found.conversations[cid] = oid
            if by_fields:
                found.by_fields.add(cid)
        return found

    async def message_proposals(
        self, user: str, text: str, conversation_ids: Sequence[str], per_conversation: int
    ) -> dict[str, list[str]]:
        """Message ids proposed for ``text`` in these conversations, at most
        ``per_conversation`` each, in the order they were indexed."""
        return await asyncio.to_thread(
            self._message_proposals, user, normalize(text), conversation_ids, per_conversation
        )

    def _message_proposals(
        self, user: str, term: str, conversation_ids: Sequence[str], per_conversation: int
    ) -> dict[str, list[str]]:
        wanted = set(conversation_ids)
        found: dict[str, list[str]] = {}
        with self._lock:
            rows = self._db.execute(_CANDIDATES_SQL, (_phrase(term), user)).fetchall()
        for cid, msg_id in rows:
            if cid in wanted:
                ids = found.setdefault(cid, [])
                if len(ids) < per_conversation:
                    ids.append(msg_id)
        return found

    async def conversations_matching(self, database: Database, user: str, text: str) -> list[str]:
        """Ids of the user's conversations with a message containing ``text``,
        proposed by the index and confirmed by MongoDB."""
        term = normalize(text)
        matched: set[str] = set()
        rejected: set[str] = set()
        unconfirmed: set[str] = set()
        for _ in range(_CONFIRM_ROUNDS):
            candidates = await asyncio.to_thread(self._candidates, user, term, frozenset(rejected))
            for pairs in candidates.values():
                pairs[:] = [(c, m) for c, m in pairs if c not in matched]
            proposed = {c for pairs in candidates.values() for c, _ in pairs}
            if not proposed:
                unconfirmed = set()
                break
            confirmed = await _confirm(database, user, text, candidates)
            matched |= confirmed
            unconfirmed = proposed - confirmed
            rejected |= {m for pairs in candidates.values() for c, m in pairs if c not in confirmed}
            if not unconfirmed:
                break
        if unconfirmed:
            # A conversation whose indexed messages keep failing: ask MongoDB.
            matched |= set(await _scan_conversations(database, user, text, sorted(unconfirmed)))
        return sorted(matched)


@dataclass
class Proposals:
    """The index's answer for one user and term; MongoDB confirms it."""

    # Conversations whose title or a tag contains the term (folded).
    by_fields: set[str] = dataclasses.field(default_factory=set)
    # Conversations with a message containing it: a few of those message ids.
    by_messages: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    # Every conversation of the user the index knows: conversationId -> _id.
    conversations: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def matched(self) -> set[str]:
        return self.by_fields | set(self.by_messages)

    def newest(self) -> ObjectId | None:
        """The highest ``_id`` among the conversations the index knows."""
        oids = [ObjectId(o) for o in self.conversations.values() if ObjectId.is_valid(o)]
        return max(oids, default=None)


async def _sorted_changes(
    database: Database, collection: str, changes: Sequence[Change]
) -> tuple[list[Document], list[str]]:
    """The documents of ``collection`` to (re)index and the keys to drop."""
    upserts: list[Document] = []
    deletes: list[str] = []
    lookups: list[Any] = []
    for change in changes:
        if change.collection != collection:
            continue
        if change.operation == "delete":
            deletes.append(str(change.key))
        elif change.document is not None:
            upserts.append(change.document)
        else:
            lookups.append(change.key)
    if lookups:
        found = await database.db[collection].find({"_id": {"$in": lookups}}).to_list(None)
        upserts.extend(found)
        present = {str(d["_id"]) for d in found}
        deletes.extend(str(k) for k in lookups if str(k) not in present)
    return upserts, deletes


def _regex(text: str) -> dict[str, str]:
    return {"$regex": re.escape(text), "$options": "i"}


def _object_id(value: str) -> Any:
    return ObjectId(value) if ObjectId.is_valid(value) else value


async def _confirm(
    database: Database, user: str, text: str, candidates: dict[str, list[tuple[str, str]]]
) -> set[str]:
    """The conversations whose proposed message really matches, in MongoDB now.

    The messages are read by ``_id`` alone (an index lookup; with the regex in
    the filter SecantusDB scans the collection) and matched with the rule of
    the scan's regex: case-insensitive literal substring.
    """
    confirmed: set[str] = set()
    pattern = literal_pattern(text)
    for pairs in candidates.values():
        ids = [_object_id(m) for _, m in pairs]
        for start in range(0, len(ids), _CONFIRM_CHUNK):
            chunk = ids[start : start + _CONFIRM_CHUNK]
            cursor = database.messages.find(
                {"_id": {"$in": chunk}},
                {"user": 1, "conversationId": 1, "text": 1, "content": 1},
                batch_size=len(chunk),
            )
            async for doc in cursor:
                if doc.get("user") == user and _message_matches(doc, pattern):
                    confirmed.add(str(doc["conversationId"]))
    return confirmed


def message_texts(doc: Document) -> list[str]:
    """What search matches in a message: ``text``, then each ``content[].text``
    (MongoDB's "content.text" reaches into an array of parts or one sub-document)."""
    content = doc.get("content")
    items = content if isinstance(content, list) else [content]
    values = [doc.get("text"), *(p.get("text") for p in items if isinstance(p, dict))]
    return [v for v in values if isinstance(v, str)]


def _message_matches(doc: Document, pattern: re.Pattern[str]) -> bool:
    """The scan's test: ``text`` or any ``content.text`` contains the term."""
    return any(pattern.search(v) for v in message_texts(doc))


def literal_pattern(text: str) -> re.Pattern[str]:
    """The scan's rule, ``{"$regex": re.escape(text), "$options": "i"}``, in Python."""
    return re.compile(re.escape(text), re.IGNORECASE)


async def confirm_conversations(
    database: Database, user: str, text: str, proposals: dict[str, list[str]]
) -> set[str]:
    """Which proposed conversations really have a matching message, in MongoDB now.

    Their proposed messages are read by ``_id`` and matched with the scan's
    rule; a conversation none of whose proposals match (a stale row) is
    scanned alone.
    """
    if not proposals:
        return set()
    ids = [m for messages in proposals.values() for m in messages]
    candidates = {"any": [("", m) for m in ids]}
    confirmed = await _confirm(database, user, text, candidates)
    doubtful = sorted(set(proposals) - confirmed)
    if doubtful:
        confirmed |= set(await _scan_conversations(database, user, text, doubtful))
    return confirmed


async def _scan_conversations(
    database: Database, user: str, text: str, conversation_ids: Sequence[str]
) -> list[str]:
    rx = _regex(text)
    found: set[str] = set()
    for path in ("text", "content.text"):
        ids = await database.messages.distinct(
            "conversationId",
            {"user": user, "conversationId": {"$in": list(conversation_ids)}, path: rx},
        )
        found.update(str(i) for i in ids)
    return sorted(found)
