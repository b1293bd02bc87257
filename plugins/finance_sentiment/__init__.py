"""Financial sentiment monitoring: topic and sentiment of news and comments, surges, alerts."""

from core import hookimpl
from plugins.finance_sentiment.adapters import PhraseBankAdapter


@hookimpl
def register_data_adapters(register):
    register(PhraseBankAdapter())
