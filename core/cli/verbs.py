"""``suite train|evaluate|predict|run SCENARIO``: one sub-command per scenario that implements the verb.

A scenario's verb method is typed with ``Annotated[..., typer.Option()]`` parameters; its
signature (minus ``self`` and the ``suite`` argument) becomes the command's options, plus a
``--json`` flag. A parameter typed with a dataclass (such as :class:`core.TrainConfig`) is
expanded into one option per field (flag and help from the field's metadata) and handed to
the method as that dataclass. The returned dict is printed.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup
from typer.core import _click as click  # typer's own click: its exceptions are these

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
    "tune": "Search a scenario's hyperparameters within a time budget.",
}
KEYWORD = inspect.Parameter.KEYWORD_ONLY


class VerbGroup(TyperGroup):
    """``suite train|evaluate|predict|run|tune``: an unknown scenario names the disabled
    plugins (one of them may provide it) and how to enable them."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.UsageError:
            suite = ctx.find_root().obj
            disabled = list(getattr(getattr(suite, "settings", None), "disable_plugins", []) or [])
            if not disabled or not args:
                raise
            names = ", ".join(disabled)
            raise click.exceptions.UsageError(f"no scenario '{args[0]}' among the enabled plugins; disabled: {names} "
                                   f"(enable one with: suite plugins enable NAME)", ctx) from None


def register(app: typer.Typer, suite: Suite) -> None:
    scenarios = list(suite.scenarios)
    for verb in VERBS:
        implementing = [s for s in scenarios if verb in s.verbs()]
        group = typer.Typer(help=VERB_HELP[verb], no_args_is_help=bool(implementing), cls=VerbGroup)
        for scenario in implementing:
            group.command(scenario.name, help=_help(scenario, verb))(scenario_command(scenario, verb))
        if not implementing:
            group.callback(invoke_without_command=True)(_none_installed(verb))
        app.add_typer(group, name=verb)
    distillable = [s for s in scenarios if s.distillable and "train" in s.verbs()]
    group = typer.Typer(help=DISTILL_HELP, no_args_is_help=bool(distillable), cls=VerbGroup)
    for scenario in distillable:
        group.command(scenario.name, help=f"Distil a {scenario.name} teacher into a smaller or faster student.")(
            scenario_command(scenario, "train", distill=True))
    if not distillable:
        group.callback(invoke_without_command=True)(_none_installed("distill"))
    app.add_typer(group, name="distill")


DISTILL_HELP = ("Teach a student model from a fine-tuned teacher: its outputs on your training data (and on "
                "--unlabelled text) beside the labels. The student is registered like any model, with its teacher.")
STUDENT_OPTION = typer.Option("--student", "--model", help="Where the student starts: a catalogue name, folder, Hub "
                              "id or registered model NAME[:VERSION], e.g. the same encoder fine-tuned directly "
                              "(default: the scenario's encoder); or use --student-layers.")


def scenario_command(scenario: Scenario, verb: str, *, distill: bool = False) -> Callable[..., None]:
    """A typer command calling ``scenario.<verb>(suite, **options)`` and printing its result.
    ``distill``: ``suite distill SCENARIO``, the ``train`` verb plus the options of
    :class:`core.training.distill.Distillation`, with ``--student`` naming the encoder."""
    from core.training.config import TrainConfig
    from core.training.distill import Distillation

    method = getattr(scenario, verb)
    signature = inspect.signature(method, eval_str=True)
    params = list(signature.parameters.values())
    if not params:
        raise PluginError(f"scenario '{scenario.name}': {verb}() must take the suite as first argument")
    own: list[inspect.Parameter] = []
    groups: dict[str, Any] = {}
    for param in params[1:]:
        if param.name == "json_output":
            raise PluginError(f"scenario '{scenario.name}': 'json_output' is reserved by the core")
        if dataclasses.is_dataclass(param.annotation):
            defaults = param.default if dataclasses.is_dataclass(param.default) else param.annotation()
            groups[param.name] = defaults
            own += _dataclass_options(param.name, param.annotation, defaults, skip=scenario.unused_train_options)
        elif distill and param.name == "model":
            own.append(param.replace(kind=KEYWORD, annotation=Annotated[Optional[str], STUDENT_OPTION]))
        else:
            own.append(param.replace(kind=KEYWORD))
    bulk = verb == "predict" and any(p.name == "input" for p in own)
    if bulk:
        own += BULK_OPTIONS
    training = next((name for name, d in groups.items() if isinstance(d, TrainConfig)), None)
    if distill:
        if training is None:
            raise PluginError(f"scenario '{scenario.name}': distillation needs a TrainConfig parameter on train()")
        own += _dataclass_options("distillation", Distillation, Distillation())

    def command(ctx: typer.Context, json_output: bool = False, **options: Any) -> None:
        for name, defaults in groups.items():
            prefix = f"{name}__"
            values = {k.removeprefix(prefix): options.pop(k) for k in list(options) if k.startswith(prefix)}
            options[name] = dataclasses.replace(defaults, **values)
        if distill:
            values = {k.removeprefix("distillation__"): options.pop(k) for k in list(options) if k.startswith("distillation__")}
            distillation = Distillation(**values)
            distillation.check()
            # The student is the teacher's next version, not served until activated (after
            # `suite models compare`); no untuned baseline: the teacher is its reference.
            if "name" in options and options["name"] is None:
                options["name"] = str(distillation.teacher).partition(":")[0]
            activate = options[training].activate
            options[training] = dataclasses.replace(options[training], distillation=distillation, baseline=False,
                                                    activate=False if activate is None else activate)
        if bulk:
            output, workers, resume = options.pop("bulk_output"), options.pop("bulk_workers"), options.pop("bulk_resume")
            if output is not None or workers > 1 or resume:
                result = _bulk(ctx, scenario, options, output, workers, resume)
                print_result(result, json_output=json_output)
                return
        result = method(get_suite(ctx), **options)
        text = None if json_output or result is None else scenario.render(verb, result)
        if text is not None:
            typer.echo(text)
        else:
            print_result(result, json_output=json_output)
        if isinstance(result, dict):
            for warning in result.get("warnings", []):
                typer.echo(f"warning: {warning}", err=True)
            if result.get("exit_code"):
                raise typer.Exit(int(result["exit_code"]))

    ctx_param = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
    json_param = inspect.Parameter("json_output", KEYWORD, default=False, annotation=JsonFlag)
    all_params = [ctx_param, *own, json_param]
    command.__signature__ = signature.replace(parameters=all_params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in all_params}
    command.__name__ = f"{verb}_{scenario.name.replace('-', '_')}"
    return command


BULK_OPTIONS = [
    inspect.Parameter("bulk_output", KEYWORD, default=None, annotation=Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Write one JSON line per --input record here, in input order (big files: "
        "written as it goes to OUTPUT.partial, renamed at the end).")]),
    inspect.Parameter("bulk_workers", KEYWORD, default=1, annotation=Annotated[int, typer.Option(
        "--workers", min=1, help="Score --input with this many processes (each loads the model once per task).")]),
    inspect.Parameter("bulk_resume", KEYWORD, default=False, annotation=Annotated[bool, typer.Option(
        "--resume", help="Keep the predictions OUTPUT.partial already holds and score the rest.")]),
]


def _bulk(ctx: typer.Context, scenario: Scenario, options: dict[str, Any], output: Path | None, workers: int,
          resume: bool) -> dict[str, Any]:
    """``suite predict SCENARIO --input F --output O [--workers N] [--resume]`` (core.cli.bulk)."""
    from core.cli.bulk import bulk_predict, settings_for_workers
    from core.errors import UsageError

    source, texts = options.pop("input", None), options.pop("texts", None)
    if source is None or texts:
        raise UsageError("--output/--workers/--resume score an --input file (not texts given as arguments)")
    if output is None:
        raise UsageError("--workers and --resume need --output FILE (the predictions are written there in order)")
    suite = get_suite(ctx)
    return bulk_predict(scenario.name, settings_for_workers(suite.settings), options, Path(source), output,
                        workers=workers, resume=resume, encoding=options.get("encoding", "utf-8"))


def train_defaults(scenario: Scenario) -> Any:
    """The defaults ``suite train SCENARIO`` starts from (its TrainConfig), or None."""
    if "train" not in scenario.verbs():
        return None
    for param in inspect.signature(scenario.train, eval_str=True).parameters.values():
        if dataclasses.is_dataclass(param.annotation):
            return param.default if dataclasses.is_dataclass(param.default) else param.annotation()
    return None


def _dataclass_options(prefix: str, cls: type, defaults: Any, skip: frozenset[str] = frozenset()) -> list[inspect.Parameter]:
    """One option per field but those in ``skip``; the defaults come from the method's default
    instance (so a scenario can set its own, e.g. a lower learning rate for tagging)."""
    hints = typing.get_type_hints(cls)
    options = []
    for f in dataclasses.fields(cls):
        if f.name in skip or f.metadata.get("cli") is False:
            continue
        flag = f.metadata.get("option", "--" + f.name.replace("_", "-"))
        annotation = Annotated[hints[f.name], typer.Option(flag, help=f.metadata.get("help"))]
        options.append(inspect.Parameter(f"{prefix}__{f.name}", KEYWORD, default=getattr(defaults, f.name),
                                         annotation=annotation))
    return options


def _help(scenario: Scenario, verb: str) -> str:
    doc = inspect.getdoc(getattr(scenario, verb)) or ""
    return doc or scenario.help


def _none_installed(verb: str) -> Callable[[], None]:
    def callback() -> None:
        typer.echo(f"No installed scenario implements '{verb}'. See 'suite plugins list'.", err=True)
        raise typer.Exit(2)

    return callback
