"""The rate limiter of one app instance, built from the settings.

The budgets themselves, and why they are counted the way they are, live in
``resolvers/adapters/rate_limiter.py``; this module only maps settings onto them.
"""

from __future__ import annotations

from app import metrics
from app.settings import Settings, SettingsError
from resolvers.adapters.rate_limiter import Action, ActionLimits, Budget, RateLimiter


def build_rate_limiter(settings: Settings) -> RateLimiter:
    """Import, fork/duplicate and export budgets on ``RATE_LIMIT_STORAGE_URI``.

    Raises:
        SettingsError: the storage URI is neither memory:// nor redis://.
    """
    limits: dict[Action, ActionLimits] = {
        "import": ActionLimits(
            per_ip=Budget(settings.import_ip_max, settings.import_ip_window_min),
            per_user=Budget(settings.import_user_max, settings.import_user_window_min),
        ),
        "fork": ActionLimits(
            per_ip=Budget(settings.fork_ip_max, settings.fork_ip_window_min),
            per_user=Budget(settings.fork_user_max, settings.fork_user_window_min),
        ),
        "export": ActionLimits(
            per_ip=Budget(settings.export_ip_max, settings.export_ip_window_min),
            per_user=Budget(settings.export_user_max, settings.export_user_window_min),
        ),
    }
    try:
        return RateLimiter.create(
            settings.rate_limit_storage_uri,
            limits,
            key_prefix=settings.rate_limit_key_prefix,
            on_refused=metrics.rate_limited,
        )
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc
