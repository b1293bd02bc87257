"""Customer service: intent model, answer templates, retrieval fallback and escalation."""

from core import hookimpl
from plugins.customer_service.adapters import RasaNluAdapter


@hookimpl
def register_data_adapters(register):
    register(RasaNluAdapter())
