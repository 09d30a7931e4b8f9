"""What resolver operations need from the process, passed in explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field

from resolvers.adapters.import_observer import ImportObserver, NoImportObserver
from resolvers.adapters.rate_limiter import RateLimiter
from resolvers.operations.events import EventSink, NoEvents
from resolvers.operations.locks import UserLock, UserLocks
from resolvers.titles.service import TitleService
from resolvers.titles.waiting import GEN_TITLE_DELAYS_S
from storage.database import Database
from storage.search_index import SearchIndex


@dataclass
class Services:
    """Process-wide collaborators of the operations (one per app instance)."""

    database: Database
    events: EventSink = field(default_factory=NoEvents)
    # Budgets for fork/duplicate and import; None (no limits) only where an
    # operation is exercised without an app (create_app always sets one).
    rate_limiter: RateLimiter | None = None
    # Background title generation; None where no app runs (then gen_title
    # only reads what another replica put in a shared cache: nothing).
    titles: TitleService | None = None
    # gen_title's backoff, LibreChat's 0.5, 1, 2, 4, 8 s; tests shorten it.
    title_wait_delays: tuple[float, ...] = GEN_TITLE_DELAYS_S
    # Serialises one user's tag changes (positions, counts); see resolvers/operations/locks.py.
    # In this process by default; replicas share a Redis one (redis_locks.py).
    locks: UserLock = field(default_factory=UserLocks)
    # The most messages one conversation's `messages` field reads (the GraphQL
    # cost limit counts that field at this size); more is TOO_MANY_MESSAGES.
    max_messages_per_conversation: int = 2000
    # Told when imports start and end (the app's metrics); nobody by default.
    import_observer: ImportObserver = field(default_factory=NoImportObserver)
    # The message search index (SEARCH_MODE=index); None = always the scan.
    search_index: SearchIndex | None = None
