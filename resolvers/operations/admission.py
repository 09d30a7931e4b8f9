"""Admissions: the proof an operation needs that the rate limits let its request in.

Limited operations (fork, duplicate, import) take an :class:`Admission` rather
than counting themselves, so an edge can spend the budget before it reads or
parses the request, and no edge can call the operation without spending it.
"""

from __future__ import annotations

from typing import ClassVar, Self

from resolvers.adapters.rate_limiter import Action, RateLimiter
from resolvers.adapters.services import Services


class Admission:
    """One request the rate limits admitted, for one user; spent by one operation.

    Edges obtain it before they read or parse the request, as LibreChat's
    limiters run before its handlers: a request counts whether it then
    succeeds or fails validation, which also bounds probing for other users'
    conversation ids (404 vs 403), and a client over its budget never makes
    the server read its body. Each action has its subclass, so an operation
    cannot be handed another action's admission.
    """

    # The budget this kind of admission spends (each subclass names its own).
    action: ClassVar[Action]

    def __init__(self, user: str) -> None:
        self.user = user
        self._spent = False

    @classmethod
    async def admit(cls, services: Services, user: str, *, client_ip: str | None) -> Self:
        """Count one request against the user's and the IP's budgets for ``action``.

        Raises:
            RateLimited: over either budget (nothing counted).
            RateLimitUnavailable: the counters' Redis cannot be reached.
        """
        await enforce(services.rate_limiter, cls.action, user=user, client_ip=client_ip)
        return cls(user)

    @classmethod
    def unmetered(cls, user: str) -> Self:
        """An admission outside the rate limits, for operators (the CLIs)."""
        return cls(user)

    def spend(self) -> str:
        """Use the admission; return its user.

        Raises:
            RuntimeError: It was already used (a bug in the caller).
        """
        if self._spent:
            raise RuntimeError("an admission is used once")
        self._spent = True
        return self.user


async def enforce(
    limiter: RateLimiter | None, action: Action, *, user: str, client_ip: str | None
) -> None:
    """The seam every limited operation calls first (fork, duplicate, import).

    A no-op when the process runs without a limiter (unit tests of operations
    that build ``Services`` by hand); ``create_app`` always installs one.

    Raises:
        RateLimited, RateLimitUnavailable: see :meth:`RateLimiter.check`.
    """
    if limiter is not None:
        await limiter.check(action, client_ip, user)
