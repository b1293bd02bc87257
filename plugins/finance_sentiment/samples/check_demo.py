"""``make demo``'s check: the demo surge raised its alert, nothing fired on the quiet days, and
the report was written.

    python -m plugins.finance_sentiment.samples.check_demo .demo/summary.json
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

EXPECTED_KEY = "entity:Northwind Bank"
TRUTH = Path(__file__).parent / "feed.truth.json"
AFTER = timedelta(hours=1)  # an alert on the surge's items may fire until its last window closes


def main(summary_file: Path) -> int:
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    surges = json.loads(TRUTH.read_text(encoding="utf-8"))["surges"]
    fired = [a for a in summary["alerts"] if a["event"] == "fire"]
    report = Path(summary.get("report") or "")
    print(f"demo: {summary['items_read']} items read, {summary['stored']} stored, {summary['duplicates']} repeated, "
          f"{summary['dead_letters']} dead letters, {summary['items_per_second']} items/s; "
          f"alerts fired: {', '.join(a['key'] for a in fired) or 'none'}; report: {report}")
    if not any(a["key"] == EXPECTED_KEY for a in fired):
        print(f"demo FAILED: no alert on {EXPECTED_KEY}", file=sys.stderr)
        return 1
    quiet = [a for a in fired if not any(datetime.fromisoformat(s["start"]) <= datetime.fromisoformat(a["at"])
                                         <= datetime.fromisoformat(s["end"]) + AFTER for s in surges)]
    if quiet:
        print(f"demo FAILED: alerts on the quiet days: {', '.join(a['key'] + ' at ' + a['at'] for a in quiet)}", file=sys.stderr)
        return 1
    if not report.is_file() or "trend-chart" not in report.read_text(encoding="utf-8"):
        print("demo FAILED: the report was not written", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
