"""Test data in LibreChat's own shapes, written straight to the database."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Any

import bson

from app.auth import issue_token
from storage.database import Database, Document

JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
NO_PARENT = "00000000-0000-0000-0000-000000000000"
BASE_TIME = datetime(2024, 1, 15, 10, 0, 0)

ALICE = "6b0a7813319bf155c7d48351"
BOB = "6b0a7813319bf155c7d48357"


def token(user: str, ttl_s: int = 3600, secret: str = JWT_SECRET) -> str:
    return issue_token(secret, user, ttl_s)


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user)}"}


def conversation_doc(user: str, **fields: Any) -> Document:
    doc: Document = {
        "conversationId": str(uuid.uuid4()),
        "user": user,
        "title": "New Chat",
        "endpoint": "openAI",
        "model": "gpt-4o",
        "isArchived": False,
        "tags": [],
        "messages": [],
        "files": [],
        "createdAt": BASE_TIME,
        "updatedAt": BASE_TIME,
        "__v": 0,
    }
    doc.update(fields)
    return doc


async def insert_conversation(database: Database, user: str, **fields: Any) -> Document:
    doc = conversation_doc(user, **fields)
    await database.conversations.insert_one(doc)
    return doc


def message_doc(
    user: str,
    conversation_id: str,
    *,
    parent: str = NO_PARENT,
    text: str = "hi",
    created_at: datetime | None = None,
    **fields: Any,
) -> Document:
    doc: Document = {
        "messageId": str(uuid.uuid4()),
        "conversationId": conversation_id,
        "user": user,
        "parentMessageId": parent,
        "sender": "user" if fields.get("isCreatedByUser", True) else "GPT-4o",
        "text": text,
        "isCreatedByUser": True,
        "error": False,
        "unfinished": False,
        "createdAt": created_at or BASE_TIME,
        "updatedAt": created_at or BASE_TIME,
    }
    doc.update(fields)
    return doc


async def insert_thread(
    database: Database, user: str, conversation_id: str, texts: list[str]
) -> list[Document]:
    """A linear thread: each message answers the previous one."""
    docs: list[Document] = []
    parent = NO_PARENT
    for i, text in enumerate(texts):
        doc = message_doc(
            user,
            conversation_id,
            parent=parent,
            text=text,
            created_at=BASE_TIME + timedelta(seconds=i),
            isCreatedByUser=i % 2 == 0,
        )
        docs.append(doc)
        parent = doc["messageId"]
    if docs:
        await database.messages.insert_many(docs)
    return docs


async def snapshot(database: Database) -> dict[str, list[Document]]:
    """Every document of the three collections, for "nothing changed" checks."""
    result: dict[str, list[Document]] = {}
    for coll in (database.conversations, database.messages, database.tags):
        result[coll.name] = await coll.find({}, sort=[("_id", 1)]).to_list(None)
    return result


async def fingerprint(database: Database) -> dict[str, tuple[int, str]]:
    """Each collection's document count and a SHA-256 of its documents' BSON,
    in ``_id`` order: equal fingerprints mean the data is byte-for-byte the same."""
    result: dict[str, tuple[int, str]] = {}
    for coll in (database.conversations, database.messages, database.tags):
        digest = hashlib.sha256()
        count = 0
        async for doc in coll.find({}, sort=[("_id", 1)]):
            digest.update(bson.encode(doc))
            count += 1
        result[coll.name] = (count, digest.hexdigest())
    return result
