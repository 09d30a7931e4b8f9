"""What resolver operations need from the process, passed in explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field

from resolvers.events import EventSink, NoEvents
from storage.database import Database


@dataclass
class Services:
    """Process-wide collaborators of the operations (one per app instance)."""

    database: Database
    events: EventSink = field(default_factory=NoEvents)
