"""``suite train|evaluate|predict|run SCENARIO``: one sub-command per scenario that implements the verb.

A scenario's verb method is typed with ``Annotated[..., typer.Option()]`` parameters; its
signature (minus ``self`` and the ``suite`` argument) becomes the command's options, plus a
``--json`` flag. The returned dict is printed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import typer

from core.app import Suite
from core.cli import get_suite
from core.cli.options import JsonFlag
from core.cli.output import print_result
from core.errors import PluginError
from core.scenarios import VERBS, Scenario

VERB_HELP = {
    "train": "Fine-tune a scenario's model on your data and register it.",
    "evaluate": "Evaluate a scenario's model on labelled data.",
    "predict": "Predict with a scenario's registered model.",
    "run": "Run a scenario's job (monitor, chat, batch).",
}


def register(app: typer.Typer, suite: Suite) -> None:
    scenarios = list(suite.scenarios)
    for verb in VERBS:
        implementing = [s for s in scenarios if verb in s.verbs()]
        group = typer.Typer(help=VERB_HELP[verb], no_args_is_help=bool(implementing))
        for scenario in implementing:
            group.command(scenario.name, help=_help(scenario, verb))(scenario_command(scenario, verb))
        if not implementing:
            group.callback(invoke_without_command=True)(_none_installed(verb))
        app.add_typer(group, name=verb)


def scenario_command(scenario: Scenario, verb: str) -> Callable[..., None]:
    """A typer command calling ``scenario.<verb>(suite, **options)`` and printing its result."""
    method = getattr(scenario, verb)
    signature = inspect.signature(method, eval_str=True)
    params = list(signature.parameters.values())
    if not params:
        raise PluginError(f"scenario '{scenario.name}': {verb}() must take the suite as first argument")
    own = params[1:]
    if any(p.name == "json_output" for p in own):
        raise PluginError(f"scenario '{scenario.name}': 'json_output' is reserved by the core")

    def command(ctx: typer.Context, json_output: bool = False, **options: Any) -> None:
        result = method(get_suite(ctx), **options)
        print_result(result, json_output=json_output)

    ctx_param = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
    json_param = inspect.Parameter(
        "json_output", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=JsonFlag
    )
    keyword_own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
    command.__signature__ = signature.replace(parameters=[ctx_param, *keyword_own, json_param])  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in (ctx_param, *keyword_own, json_param)}
    command.__name__ = f"{verb}_{scenario.name.replace('-', '_')}"
    return command


def _help(scenario: Scenario, verb: str) -> str:
    doc = inspect.getdoc(getattr(scenario, verb)) or ""
    return doc or scenario.help


def _none_installed(verb: str) -> Callable[[], None]:
    def callback() -> None:
        typer.echo(f"No installed scenario implements '{verb}'. See 'suite plugins list'.", err=True)
        raise typer.Exit(2)

    return callback
