"""Recommendation: text-based interest scoring and ranking."""

from core import hookimpl
from plugins.recommendation.adapters import MovieLensItemsAdapter


@hookimpl
def register_data_adapters(register):
    register(MovieLensItemsAdapter())
