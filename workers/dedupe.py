"""Enqueue-once guards in Redis: a short-lived key per step, so the watcher does not flood."""

from __future__ import annotations

from functools import lru_cache

import redis

from zkpot.config import get_settings


@lru_cache(maxsize=1)
def _client() -> redis.Redis:
    return redis.Redis.from_url(get_settings().redis_url, socket_timeout=5)


def once(key: str, ttl: int) -> bool:
    """True the first time ``key`` is seen within ``ttl`` seconds (safe to lose on restart)."""
    return bool(_client().set(f"zkpot:enqueued:{key}", 1, nx=True, ex=ttl))


def done(key: str) -> None:
    """Forget ``key`` so the step can be enqueued again at once."""
    _client().delete(f"zkpot:enqueued:{key}")
