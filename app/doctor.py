"""``convos-gateway doctor``: can the gateway serve this database, and at what cost?

Read-only unless asked to create the missing indexes. Every finding is one
of three levels: ``ok``, ``warn`` (serves, but something is slower or
per-process) or ``FAIL`` (blocks serving: the exit status is then 1).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TextIO

from pymongo.errors import PyMongoError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.settings import Settings
from storage.database import Database, Document
from storage.indexes import ensure_indexes
from storage.inspection import (
    CollectionFacts,
    IndexKey,
    RequiredIndex,
    change_streams_available,
    collection_facts,
    duplicate_keys,
    first_documents,
    required_indexes,
    server_facts,
)

Level = Literal["ok", "warn", "FAIL"]
# How many problem documents (or duplicate keys) are listed per collection.
_SHOWN = 5
_REDIS_TIMEOUT_S = 2.0


@dataclass
class Finding:
    level: Level
    topic: str
    text: str
    details: list[str] = field(default_factory=list)


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    def add(self, level: Level, topic: str, text: str, details: Sequence[str] = ()) -> None:
        self.findings.append(Finding(level, topic, text, list(details)))

    @property
    def blocked(self) -> bool:
        return any(f.level == "FAIL" for f in self.findings)

    def render(self, out: TextIO) -> None:
        for f in self.findings:
            out.write(f"[{f.level:>4}] {f.topic:<12} {f.text}\n")
            for line in f.details:
                out.write(f"{'':19}{line}\n")
        warnings = sum(f.level == "warn" for f in self.findings)
        if self.blocked:
            failures = sum(f.level == "FAIL" for f in self.findings)
            out.write(f"result: BLOCKED ({failures} failing, {warnings} warnings)\n")
        else:
            out.write(f"result: ready to serve ({warnings} warnings)\n")


# --- document shapes ----------------------------------------------------------

# A field's value -> why the gateway cannot serve it (after the field's name), or None.
Rule = Callable[[object], str | None]


def _string(value: object) -> str | None:
    return None if isinstance(value, str) and value else "missing or not a string"


def _optional(types: tuple[type, ...], what: str) -> Rule:
    def rule(value: object) -> str | None:
        if value is not None and not isinstance(value, types):
            return f"is {type(value).__name__}, not {what}"
        return None

    return rule


def _string_list(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, list):
        return f"is {type(value).__name__}, not an array"
    if not all(isinstance(v, str) for v in value):
        return "holds non-strings"
    return None


_OPTIONAL_STRING = _optional((str,), "a string")
_OPTIONAL_DATE = _optional((datetime,), "a date")

# What the gateway's reads assume of each collection (LibreChat's schemas):
# the fields read, each with its rule.
SHAPES: dict[str, dict[str, Rule]] = {
    "conversations": {
        "conversationId": _string,
        "user": _string,
        "title": _OPTIONAL_STRING,
        "tags": _string_list,
        "createdAt": _OPTIONAL_DATE,
        "updatedAt": _OPTIONAL_DATE,
    },
    "messages": {
        "messageId": _string,
        "conversationId": _string,
        "user": _string,
        "parentMessageId": _OPTIONAL_STRING,
        "createdAt": _OPTIONAL_DATE,
    },
    "conversationtags": {
        "tag": _string,
        "user": _string,
        "position": _optional((int, float), "a number"),
    },
}


def shape_problems(collection: str, docs: Sequence[Document]) -> list[str]:
    """One line per document the gateway cannot serve, with every reason."""
    problems = []
    for doc in docs:
        reasons = [
            f"{name} {reason}"
            for name, rule in SHAPES[collection].items()
            if (reason := rule(doc.get(name))) is not None
        ]
        if reasons:
            problems.append(f"_id {doc.get('_id')}: {'; '.join(reasons)}")
    return problems


# --- the checks -----------------------------------------------------------------


def _key_text(key: IndexKey) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in key) + "}"


def _cost(facts: CollectionFacts) -> str:
    size = f", {facts.data_bytes / 1e6:,.1f} MB" if facts.data_bytes is not None else ""
    return f"build scans {facts.documents:,} documents{size}"


async def _check_server(database: Database, report: Report) -> bool:
    try:
        server = await server_facts(database)
    except PyMongoError as exc:
        report.add("FAIL", "mongodb", f"not reachable or not supported: {exc}")
        return False
    where = f"{server.topology} {server.set_name}" if server.set_name else server.topology
    report.add("ok", "mongodb", f"version {server.version}, {where}")
    reason = await change_streams_available(database)
    if reason is None:
        report.add("ok", "changes", "change streams available")
    else:
        report.add(
            "warn", "changes", "change streams not available (a replica set has them)", [reason]
        )
    return True


async def _check_indexes(
    database: Database, facts: dict[str, CollectionFacts], report: Report
) -> None:
    required = required_indexes(database)
    missing = [r for r in required if r.key not in facts[r.collection].index_keys]
    if not missing:
        report.add("ok", "indexes", f"all {len(required)} the gateway needs exist")
        return
    report.add(
        "warn",
        "indexes",
        f"{len(missing)} of {len(required)} missing (the gateway creates them at start; "
        "`doctor --create-indexes` creates them now)",
        [f"{r.collection} {_key_text(r.key)}: {_cost(facts[r.collection])}" for r in missing],
    )
    for index in missing:
        if index.unique:
            await _check_duplicates(database, index, report)


async def _check_duplicates(database: Database, index: RequiredIndex, report: Report) -> None:
    fields = [name for name, _ in index.key]
    rows = await duplicate_keys(database.db[index.collection], fields, _SHOWN)
    if rows:
        report.add(
            "FAIL",
            "duplicates",
            f"{index.collection}: documents share {_key_text(index.key)}, "
            "so the unique index cannot be built",
            [", ".join(f"{k}={v!r}" for k, v in row.items()) for row in rows],
        )


async def _check_shapes(database: Database, report: Report, sample: int) -> None:
    for name, rules in SHAPES.items():
        docs = await first_documents(database.db[name], list(rules), sample)
        problems = shape_problems(name, docs)
        if problems:
            report.add(
                "FAIL",
                "documents",
                f"{name}: {len(problems)} of the first {len(docs):,} cannot be served",
                problems[:_SHOWN]
                + ([f"... {len(problems) - _SHOWN} more"] * (len(problems) > _SHOWN)),
            )
        else:
            report.add("ok", "documents", f"{name}: the first {len(docs):,} are servable")


async def _check_redis(settings: Settings, report: Report) -> None:
    uris = {"REDIS_URI": settings.redis_uri}
    if settings.rate_limit_storage_uri.startswith(("redis://", "rediss://")):
        uris["RATE_LIMIT_STORAGE_URI"] = settings.rate_limit_storage_uri
    configured = {name: uri for name, uri in uris.items() if uri}
    if not configured:
        report.add(
            "warn",
            "redis",
            "not configured: rate limits, persisted queries, events and titles are per process",
        )
        return
    for name, uri in configured.items():
        client = Redis.from_url(
            uri, socket_connect_timeout=_REDIS_TIMEOUT_S, socket_timeout=_REDIS_TIMEOUT_S
        )
        try:
            await client.ping()
            report.add("ok", "redis", f"{name} answers")
        except (RedisError, OSError) as exc:
            report.add("FAIL", "redis", f"{name} not reachable: {exc}")
        finally:
            await client.aclose()


async def diagnose(
    settings: Settings, database: Database, *, sample: int = 1000, create_indexes: bool = False
) -> Report:
    """Every check, in the order an operator reads them."""
    report = Report()
    if await _check_server(database, report):
        try:
            if create_indexes:
                await ensure_indexes(database)
                report.add("ok", "indexes", "created the missing indexes")
            facts = {
                c.name: await collection_facts(c)
                for c in (database.conversations, database.messages, database.tags)
            }
            report.add(
                "ok",
                "collections",
                ", ".join(f"{f.name} {f.documents:,}" for f in facts.values()),
            )
            await _check_indexes(database, facts, report)
            await _check_shapes(database, report, sample)
        except PyMongoError as exc:
            report.add("FAIL", "mongodb", f"read failed: {exc}")
    await _check_redis(settings, report)
    return report


def run(settings: Settings, out: TextIO, *, sample: int, create_indexes: bool) -> int:
    """The CLI's entry: 0 when the gateway can serve, 1 when something blocks it."""
    from storage.database import connect

    assert settings.mongo_uri is not None

    async def main() -> Report:
        database = connect(
            settings.mongo_uri or "",
            default_db=settings.mongo_db_name,
            timeout_ms=settings.mongo_timeout_ms,
        )
        out.write(f"convos-gateway doctor: database {database.db.name!r}\n")
        try:
            return await diagnose(settings, database, sample=sample, create_indexes=create_indexes)
        finally:
            await database.close()

    report = asyncio.run(main())
    report.render(out)
    return 1 if report.blocked else 0
