"""The base class of a business scenario: what ``suite train|evaluate|predict|run`` drive."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from core.app import Suite
    from core.models import ModelSource

VERBS = ("train", "evaluate", "predict", "run", "tune")


class Scenario:
    """A scenario implements any of the verbs ``train``, ``evaluate``, ``predict``, ``run`` and ``tune``.

    Each verb is a method whose first parameter (after ``self``) is the :class:`core.Suite`
    and whose other parameters are typed with ``typing.Annotated[..., typer.Option(...)]``.
    The core turns each implemented verb into ``suite <verb> <name>`` with those options and
    a ``--json`` flag, and prints the returned ``dict`` (the same dict is the Python result)::

        class Echo(Scenario):
            name = "echo"
            help = "Repeat texts back."

            def predict(self, suite, text: Annotated[list[str], typer.Argument()]):
                return {"predictions": [{"text": t} for t in text]}

    ``run`` is for long-running jobs (a monitor, a chat loop); it may stream its own output.
    A verb left as inherited from this class is not offered on the command line. A result may
    carry ``warnings`` (sentences printed on stderr, with ``--json`` too) and ``exit_code``
    (the command's exit status, e.g. 3 for "finished, but something is left undone").
    """

    name: ClassVar[str]
    help: ClassVar[str] = ""
    # The HTTP route that gives this scenario's decisions (e.g. "/v1/customer-service/reply"). Its
    # models are refused by the generic predict route, which would answer with the bare
    # classifier and not the scenario's decision (calibration, vote, thresholds), and point here.
    route: ClassVar[str | None] = None
    # Tiny data the conformance check (core.testing.check_plugin) trains and predicts on:
    # {"train": path, "eval": path (optional), "input": path (optional)}.
    samples: ClassVar[Mapping[str, Path]] = {}
    # TrainConfig fields that mean nothing for this scenario (e.g. "validation_fraction" where the
    # validation set is derived otherwise): not offered as options, left at the verb's default.
    unused_train_options: ClassVar[frozenset[str]] = frozenset()
    # The suite.toml table this scenario's plugin reads (its options). A ``model`` key there is
    # the encoder this scenario trains from, over the top-level ``model``: a company can run
    # Chinese customer service on a multilingual encoder and English finance on the default.
    config_table: ClassVar[str | None] = None
    # Whether ``suite distill`` offers this scenario: its ``train`` learns from a teacher when
    # its TrainConfig carries a ``distillation`` (ClassificationScenario.fit does).
    distillable: ClassVar[bool] = False

    def encoder(self, suite: Suite, model: str | None = None) -> ModelSource:
        """The encoder training starts from: ``--model``, else ``model`` in this scenario's
        table, else the top-level ``model``, else the packaged default."""
        table = suite.settings.plugin_config(self.config_table) if self.config_table else {}
        configured = table.get("model")
        if configured is not None and not isinstance(configured, str):
            from core.errors import ConfigError

            raise ConfigError(f"suite.toml [{self.config_table}]: model: expected a model name, folder or id")
        return suite.encoder(model or configured)

    def stored_texts(self, suite: Suite, limit: int) -> list[str]:
        """Up to ``limit`` texts this scenario met in production, newest first (the monitor's
        items, the conversation log): ``suite distill --unlabelled stored`` has the teacher
        label them for its student. Default: none."""
        return []

    def verbs(self) -> list[str]:
        """The verbs this scenario implements (methods overridden from :class:`Scenario`)."""
        return [v for v in VERBS if getattr(type(self), v) is not getattr(Scenario, v)]

    def render(self, verb: str, result: dict[str, Any]) -> str | None:
        """Text to show instead of the generic ``key: value`` lines (not used with ``--json``)."""
        return None

    def train(self, suite: Suite, **options: Any) -> dict[str, Any]:
        raise NotImplementedError

    def evaluate(self, suite: Suite, **options: Any) -> dict[str, Any]:
        raise NotImplementedError

    def predict(self, suite: Suite, **options: Any) -> dict[str, Any]:
        raise NotImplementedError

    def run(self, suite: Suite, **options: Any) -> dict[str, Any] | None:
        raise NotImplementedError

    def tune(self, suite: Suite, **options: Any) -> dict[str, Any]:
        raise NotImplementedError
