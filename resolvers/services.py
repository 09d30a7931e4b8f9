"""What resolver operations need from the process, passed in explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field

from resolvers.events import EventSink, NoEvents
from resolvers.locks import UserLocks
from resolvers.rate_limits import RateLimiter
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
    # Serialises one user's tag changes (positions, counts); see resolvers/locks.py.
    locks: UserLocks = field(default_factory=UserLocks)
    # The message search index (SEARCH_MODE=index); None = always the scan.
    search_index: SearchIndex | None = None
