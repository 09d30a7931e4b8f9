"""What resolver operations need from the process, passed in explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field

from resolvers.events import EventSink, NoEvents
from resolvers.rate_limits import RateLimiter
from storage.database import Database


@dataclass
class Services:
    """Process-wide collaborators of the operations (one per app instance)."""

    database: Database
    events: EventSink = field(default_factory=NoEvents)
    # Budgets for fork/duplicate and import; None (no limits) only where an
    # operation is exercised without an app (create_app always sets one).
    rate_limiter: RateLimiter | None = None
