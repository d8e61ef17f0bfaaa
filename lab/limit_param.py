"""The `?limit=` rule of the users pages, shared by every stack so 400s agree."""

from lab.errors import UsageError

MAX_USERS = 1000


class LimitError(UsageError, ValueError):
    """str() is the one-line reason sent with the 400."""


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return MAX_USERS
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not 1 <= value <= MAX_USERS or raw.strip() != raw:
        raise LimitError(f"limit must be a whole number from 1 to {MAX_USERS}, got {raw!r}")
    return value
