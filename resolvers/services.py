"""What resolver operations need from the process, passed in explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field

from resolvers.events import EventSink, NoEvents
from resolvers.locks import UserLocks
from storage.database import Database


@dataclass
class Services:
    """Process-wide collaborators of the operations (one per app instance)."""

    database: Database
    events: EventSink = field(default_factory=NoEvents)
    # Serialises one user's tag changes (positions, counts); see resolvers/locks.py.
    locks: UserLocks = field(default_factory=UserLocks)
