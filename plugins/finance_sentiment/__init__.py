"""Financial sentiment monitoring: topic and sentiment of news and comments, surges, alerts.

Registers the ``sentence@label`` PhraseBank adapter, the ``sentiment-topic`` head, the
``finance-sentiment`` and ``finance-monitor`` scenarios, ``suite finance ...`` commands, the
monitor's tables, the ``/v1/finance`` routes and the console's Finance page (``/ui/finance``).
"""

from core import hookimpl
from plugins.finance_sentiment.adapters import PhraseBankAdapter


@hookimpl
def register_data_adapters(register):
    register(PhraseBankAdapter())


@hookimpl
def register_task_heads(register):
    from plugins.finance_sentiment.head import SentimentTopicHead

    register(SentimentTopicHead)


@hookimpl
def register_scenarios(register):
    from plugins.finance_sentiment.scenarios import FinanceMonitor, FinanceSentiment

    register(FinanceSentiment())
    register(FinanceMonitor())


@hookimpl
def register_commands(cli):
    from plugins.finance_sentiment.cli import finance

    cli.add_typer(finance, name="finance")


@hookimpl
def register_migrations(register):
    from plugins.finance_sentiment.store import MIGRATIONS

    register(MIGRATIONS)


@hookimpl
def register_routes(register, suite):
    from plugins.finance_sentiment.routes import build_router

    register(build_router(suite))


@hookimpl
def register_ui(register, suite):
    from plugins.finance_sentiment.console import finance_page

    register(finance_page(suite))
