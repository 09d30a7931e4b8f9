"""The domain operations both edges call, with their validation, errors,
cursors, locks, events and rate-limit admissions. No HTTP, no Strawberry."""
