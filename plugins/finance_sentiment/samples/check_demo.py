"""``make demo``'s and ``make demo-zh``'s check: each labelled surge raised its alert, nothing
fired on the quiet days, the report was written, and (given a backtest's ``--json``) the
backtest found every labelled surge.

    python -m plugins.finance_sentiment.samples.check_demo .demo/summary.json
    python -m plugins.finance_sentiment.samples.check_demo .demo-zh/summary.json \\
        --truth plugins/finance_sentiment/samples/feed.zh.truth.json --backtest .demo-zh/backtest.json
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

TRUTH = Path(__file__).parent / "feed.truth.json"
AFTER = timedelta(hours=1)  # an alert on the surge's items may fire until its last window closes


def main(summary_file: Path, truth: Path = TRUTH, backtest: Path | None = None) -> int:
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    surges = json.loads(truth.read_text(encoding="utf-8"))["surges"]
    fired = [a for a in summary["alerts"] if a["event"] == "fire"]
    report = Path(summary.get("report") or "")
    print(f"demo: {summary['items_read']} items read, {summary['stored']} stored, {summary['duplicates']} repeated, "
          f"{summary['dead_letters']} dead letters, {summary['items_per_second']} items/s; "
          f"alerts fired: {', '.join(a['key'] for a in fired) or 'none'}; report: {report}")
    missed = [s["key"] for s in surges if not any(a["key"] == s["key"] for a in fired)]
    if missed:
        print(f"demo FAILED: no alert on {', '.join(missed)}", file=sys.stderr)
        return 1
    quiet = [a for a in fired if not any(datetime.fromisoformat(s["start"]) <= datetime.fromisoformat(a["at"])
                                         <= datetime.fromisoformat(s["end"]) + AFTER for s in surges)]
    if quiet:
        print(f"demo FAILED: alerts on the quiet days: {', '.join(a['key'] + ' at ' + a['at'] for a in quiet)}", file=sys.stderr)
        return 1
    if not report.is_file() or "trend-chart" not in report.read_text(encoding="utf-8"):
        print("demo FAILED: the report was not written", file=sys.stderr)
        return 1
    if backtest is not None:
        result = json.loads(backtest.read_text(encoding="utf-8"))
        print(f"backtest: {result['detected']} of {result['labelled']} labelled surges detected, "
              f"median delay {result['median_delay_minutes']} min, {len(result['false_alarms'])} false alarms")
        if result["detected"] != result["labelled"] or result["labelled"] != len(surges):
            print("demo FAILED: the backtest missed a labelled surge", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("summary", type=Path, help="suite run finance-monitor --json's output")
    parser.add_argument("--truth", type=Path, default=TRUTH, help="the feed's labelled surges")
    parser.add_argument("--backtest", type=Path, help="suite finance backtest --json's output")
    args = parser.parse_args()
    sys.exit(main(args.summary, args.truth, args.backtest))
