"""Recommendation: text-based interest scoring and ranking.

Registers the MovieLens items adapter, the ``interest-pair`` head (two-tower pair scorer),
the ``recommendation`` scenario (train, evaluate, run), the ``/v1/recommendation`` routes and
the console's page (``/ui/recommendation``).
"""

from core import hookimpl
from plugins.recommendation.adapters import MovieLensItemsAdapter


@hookimpl
def register_data_adapters(register):
    register(MovieLensItemsAdapter())


@hookimpl
def register_task_heads(register):
    from plugins.recommendation.head import InterestHead

    register(InterestHead)


@hookimpl
def register_scenarios(register):
    from plugins.recommendation.scenario import RecommendationScenario

    register(RecommendationScenario())


@hookimpl
def register_routes(register, suite):
    from plugins.recommendation.routes import build_router

    register(build_router(suite))


@hookimpl
def register_ui(register, suite):
    from plugins.recommendation.console import console_page

    register(console_page(suite))
