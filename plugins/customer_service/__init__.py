"""Customer service: intent model, answer templates, retrieval fallback and escalation.

Registers the Rasa NLU adapter, the ``customer-service`` scenario (train, evaluate, predict,
run), ``suite cs ...`` commands, the ``/v1/customer-service`` routes, the console's review
queue (``/ui/customer-service``) and the conversation log's tables (migration branch
``customer_service``).
"""

from core import hookimpl
from plugins.customer_service.adapters import RasaNluAdapter


@hookimpl
def register_data_adapters(register):
    register(RasaNluAdapter())


@hookimpl
def register_scenarios(register):
    from plugins.customer_service.scenarios import CustomerServiceScenario

    register(CustomerServiceScenario())


@hookimpl
def register_commands(cli):
    from plugins.customer_service.cli import cs

    cli.add_typer(cs, name="cs")


@hookimpl
def register_routes(register, suite):
    from plugins.customer_service.routes import build_router

    register(build_router(suite))


@hookimpl
def register_ui(register, suite):
    from plugins.customer_service.console import console_page

    register(console_page(suite))


@hookimpl
def register_migrations(register):
    from plugins.customer_service.store import MIGRATIONS

    register(MIGRATIONS)
