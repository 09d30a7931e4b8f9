"""Short-lived signed links to an export, for clients that cannot send a token
with a download (a browser following a link).

A link is ``/api/convos/export?<the export's parameters>&user=..&expires=..&signature=..``:
an HMAC-SHA256, keyed with the JWT secret, over every other query parameter
as the server decodes them, in order. The user id and the expiry are among
the signed parameters, so a link opens one user's selection, until it expires,
and changing any parameter (the format, an id, the user) breaks it. The
message is prefixed with a purpose string so a link signature can never
stand for a token signature made with the same secret.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from resolvers.adapters.services import Services
from resolvers.exporting.formats import ExportFormat
from resolvers.operations import selection as selections
from resolvers.operations.errors import BadInput, Unauthenticated
from resolvers.operations.selection import Selection

EXPORT_PATH = "/api/convos/export"
_PURPOSE = b"convos-gateway export link v1\n"
SIGNED = ("user", "expires", "signature")
LINK_INVALID = "invalid or expired export link"
# Longer URLs are refused by common servers and proxies (8 KiB request lines);
# about 190 ids fit. A larger id selection is exported over REST with a token.
MAX_LINK_LENGTH = 8000

Params = Sequence[tuple[str, str]]


def selection_params(selection: Selection, fmt: ExportFormat) -> list[tuple[str, str]]:
    """The export route's query parameters for a selection, as the route reads them back.

    A filter field added to the list is added here too.
    """
    params = [("format", fmt.value)]
    if selection.ids is not None:
        return params + [("ids", cid) for cid in selection.ids]
    query = selection.filter
    assert query is not None
    params.append(("isArchived", "true" if query.is_archived else "false"))
    params += [("tags", tag) for tag in query.tags]
    if query.search is not None:
        # The route decodes `search` once more, as LibreChat's list does.
        params.append(("search", quote(query.search, safe="")))
    if query.pinned is not None:
        params.append(("pinned", "true" if query.pinned else "false"))
    dates = query.dates
    for name, value in (
        ("createdAfter", dates.created_after),
        ("createdBefore", dates.created_before),
        ("updatedAfter", dates.updated_after),
        ("updatedBefore", dates.updated_before),
    ):
        if value is not None:
            # Naive UTC, whole milliseconds: the route parses it back unchanged.
            params.append((name, value.isoformat(timespec="milliseconds") + "Z"))
    return params


class ExportLinks:
    """Signs and checks export links with one secret."""

    def __init__(self, secret: str, ttl_s: int) -> None:
        self._key = secret.encode()
        self.ttl_s = ttl_s

    def _signature(self, params: Params) -> str:
        message = _PURPOSE + urlencode(list(params)).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def sign(self, user: str, params: Params, *, now: float | None = None) -> tuple[str, datetime]:
        """A relative URL opening the export for ``user``, and when it expires."""
        expires = int(now if now is not None else time.time()) + self.ttl_s
        signed = [*params, ("user", user), ("expires", str(expires))]
        query = urlencode([*signed, ("signature", self._signature(signed))])
        return f"{EXPORT_PATH}?{query}", datetime.fromtimestamp(expires, UTC).replace(tzinfo=None)

    def verify(self, params: Params, *, now: float | None = None) -> str:
        """The user a link was signed for.

        Raises:
            Unauthenticated: no signature, a wrong one, or an expired link.
        """
        signature = [v for k, v in params if k == "signature"]
        rest = [(k, v) for k, v in params if k != "signature"]
        users = [v for k, v in rest if k == "user"]
        expires = [v for k, v in rest if k == "expires"]
        if len(signature) != 1 or len(users) != 1 or len(expires) != 1:
            raise Unauthenticated(LINK_INVALID)
        if not hmac.compare_digest(signature[0].encode(), self._signature(rest).encode()):
            raise Unauthenticated(LINK_INVALID)
        try:
            deadline = int(expires[0])
        except ValueError:
            raise Unauthenticated(LINK_INVALID) from None
        if deadline < (now if now is not None else time.time()):
            raise Unauthenticated(LINK_INVALID)
        return users[0]


async def export_link(
    services: Services, user: str, links: ExportLinks, selection: Selection, fmt: ExportFormat
) -> tuple[str, datetime]:
    """A signed link to the export of ``selection``, after checking it is the user's.

    Raises:
        BadInput: a bad selection, or one too long for a link.
        Forbidden, NotFound: see :func:`resolvers.operations.selection.resolve`.
    """
    await selections.resolve(services, user, selection)
    url, expires = links.sign(user, selection_params(selection, fmt))
    if len(url) > MAX_LINK_LENGTH:
        raise BadInput(
            f"the selection is too long for a link ({len(url)} characters, at most "
            f"{MAX_LINK_LENGTH}): use a filter, fewer ids, or GET {EXPORT_PATH} with a token"
        )
    return url, expires
