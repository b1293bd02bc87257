"""``suite data inspect``: read a source through the adapters and say what the engine would see."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer

from core.cli import get_suite
from core.cli import options as opt
from core.cli.output import err, print_result
from core.data import TokenExample, load_text_examples, load_token_examples, resolve_adapter


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Check data files before training.", no_args_is_help=True)
    app.add_typer(group, name="data")

    @group.command("inspect")
    def inspect(
        ctx: typer.Context,
        source: Annotated[str, typer.Argument(help="A file (CSV, TSV, JSONL, CoNLL) or a SQLAlchemy URL.")],
        format: opt.Format = None,
        text_column: opt.TextColumn = "text",
        label_column: opt.LabelColumn = "label",
        label_map: opt.LabelMap = None,
        encoding: opt.Encoding = "utf-8",
        table: opt.Table = None,
        query: opt.Query = None,
        on_error: opt.OnErrorOption = "raise",
        error_report: opt.ReportFile = None,
        json_output: opt.JsonFlag = False,
    ) -> None:
        """Count examples and labels, validating every line as training would."""
        suite = get_suite(ctx)
        mode = opt.on_error_mode(on_error)
        report = opt.error_report_path(suite.settings.home, source, error_report) if mode == "skip" else None
        read = opt.read_options(encoding, table, query)
        adapter = resolve_adapter(source, suite.adapters, format)
        if adapter.kind == "tokens":
            result = load_token_examples(
                source, suite.adapters, read, format=adapter.name, on_error=mode, report_path=report
            )
        else:
            mapping = opt.column_mapping(text_column, label_column, label_map=label_map)
            result = load_text_examples(
                source, suite.adapters, mapping, read, format=adapter.name, on_error=mode, report_path=report
            )
        counts: Counter[str] = Counter()
        for ex in result.examples:
            values = ex.tags if isinstance(ex, TokenExample) else ex.label
            counts.update(values if isinstance(values, list) else [values])
        if result.skipped:
            err().print(f"skipped {len(result.skipped)} item(s); reasons in {result.report_path}", highlight=False)
        print_result(
            {
                "source": result.source,
                "format": adapter.name,
                "examples": len(result.examples),
                "skipped": len(result.skipped),
                "error_report": str(result.report_path) if result.report_path else None,
                "labels": dict(sorted(counts.items())),
            },
            json_output=json_output,
        )
