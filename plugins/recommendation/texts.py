"""How a user becomes text: their profile and their most recent liked items."""

from __future__ import annotations

from collections.abc import Sequence

from plugins.recommendation.data import Item

CONTEXT_ITEMS = 6  # the most recent liked items a user's text names (longer texts cost training time)
TAGS_PER_ITEM = 3


def item_label(item: Item) -> str:
    return f"{item.title} ({', '.join(item.tags[:TAGS_PER_ITEM])})" if item.tags else item.title


def user_text(liked: Sequence[Item], profile: str = "", context: int = CONTEXT_ITEMS) -> str:
    """Most recent first, so truncation to the model's length drops the oldest items."""
    recent = [item_label(item) for item in reversed(liked[-context:])] if context else []
    parts = ([profile.strip()] if profile.strip() else []) + (["Liked: " + "; ".join(recent)] if recent else [])
    return ". ".join(parts)
