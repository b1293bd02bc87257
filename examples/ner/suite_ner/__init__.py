"""suite-ner: the ``ner`` scenario for Industry Suite, built with the plugin kit.

Scaffolded with ``suite plugins new ner`` and then changed to tag words instead of labelling
texts: it trains the suite's ``token-classification`` head on CoNLL files and writes the
entities it finds as JSON Lines.
"""

from core import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_scenarios(register):
    from suite_ner.scenario import Ner  # imported on use, so `suite --help` stays fast

    register(Ner())
