"""Holding HTTP responses against the checked-in OpenAPI document.

``ResponseChecker.problems`` answers what is wrong with one response: a status
the document does not list for the operation, another content type, or a body
that does not match the schema. Requests to routes the document does not
describe (GraphQL, unknown paths) are not its business.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx
import jsonschema_rs

from app.openapi import DOCUMENT

_PARAM = re.compile(r"\{[^}/]+\}")

# Bodies that are not one JSON value (GET /api/convos/export).
STREAMED_MEDIA = frozenset({"application/zip", "application/x-ndjson"})


@dataclass(frozen=True)
class _Path:
    template: str
    pattern: re.Pattern[str]
    literal: bool


def _compile(template: str) -> _Path:
    parts = _PARAM.split(template)
    # A path parameter is one raw segment: an encoded "/" (%2F) stays inside it.
    pattern = "[^/]+".join(re.escape(p) for p in parts)
    return _Path(template, re.compile(f"^{pattern}$"), literal=len(parts) == 1)


class ResponseChecker:
    """The document's operations, and a validator per response schema."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        # Literal paths win over templated ones, as OpenAPI's matching rule says.
        paths = [_compile(t) for t in document["paths"]]
        self._paths = sorted(paths, key=lambda p: not p.literal)
        self._validators: dict[tuple[str, str, str, str], jsonschema_rs.Validator] = {}

    def operation(self, method: str, raw_path: str) -> tuple[str, dict[str, Any]] | None:
        """(path template, operation) serving this request, if the document has one."""
        for path in self._paths:
            if path.pattern.match(raw_path):
                op = self.document["paths"][path.template].get(method.lower())
                if op is not None:
                    return path.template, op
        return None

    def _resolve(self, item: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in item:
            node: Any = self.document
            for key in item["$ref"].removeprefix("#/").split("/"):
                node = node[key.replace("~1", "/").replace("~0", "~")]
            item = node
        return item

    def _validator(
        self, template: str, method: str, status: str, media: str, schema: dict[str, Any]
    ) -> jsonschema_rs.Validator:
        key = (template, method, status, media)
        if key not in self._validators:
            # The document is the root, so "#/components/..." references resolve.
            root = {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                **schema,
                "components": self.document["components"],
            }
            self._validators[key] = jsonschema_rs.validator_for(root, validate_formats=True)
        return self._validators[key]

    def problems(
        self, method: str, raw_path: str, status: int, content_type: str, body: bytes
    ) -> list[str]:
        """What does not conform (empty when all does, or the route is not described)."""
        found = self.operation(method, raw_path)
        if found is None:
            return []
        template, op = found
        where = f"{method.upper()} {template} -> {status}"
        response = op["responses"].get(str(status)) or op["responses"].get("default")
        if response is None:
            return [f"{where}: status not in the document ({body[:200]!r})"]
        response = self._resolve(response)
        media = content_type.split(";", 1)[0].strip().lower()
        content = response.get("content") or {}
        if media not in content:
            return [f"{where}: content type {media!r}, the document says {sorted(content)}"]
        schema = content[media]["schema"]
        if media == "text/plain":
            value: Any = body.decode()
        elif media in STREAMED_MEDIA:
            return []  # an export's archive or lines: its shape is tested by the export tests
        else:
            try:
                value = json.loads(body)
            except ValueError:
                return [f"{where}: body is not JSON ({body[:200]!r})"]
        validator = self._validator(template, method, str(status), media, schema)
        return [
            f"{where}: {error.message} at {list(error.instance_path)}"
            for error in validator.iter_errors(value)
        ]

    def check(self, response: httpx.Response) -> list[str]:
        request = response.request
        return self.problems(
            request.method,
            request.url.raw_path.split(b"?", 1)[0].decode("ascii"),
            response.status_code,
            response.headers.get("content-type", ""),
            response.content,
        )


@cache
def checker() -> ResponseChecker:
    """One checker for the whole session (the document does not change under a test)."""
    return ResponseChecker(json.loads(DOCUMENT.read_text(encoding="utf-8")))
