"""``make demo``'s check: the demo surge raised its alert and the report was written.

    python -m plugins.finance_sentiment.samples.check_demo .demo/summary.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

EXPECTED_KEY = "entity:Northwind Bank"


def main(summary_file: Path) -> int:
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    fired = [a for a in summary["alerts"] if a["event"] == "fire"]
    report = Path(summary.get("report") or "")
    print(f"demo: {summary['items_read']} items read, {summary['stored']} stored, {summary['duplicates']} repeated, "
          f"{summary['dead_letters']} dead letters, {summary['items_per_second']} items/s; "
          f"alerts fired: {', '.join(a['key'] for a in fired) or 'none'}; report: {report}")
    if not any(a["key"] == EXPECTED_KEY for a in fired):
        print(f"demo FAILED: no alert on {EXPECTED_KEY}", file=sys.stderr)
        return 1
    if not report.is_file() or "trend-chart" not in report.read_text(encoding="utf-8"):
        print("demo FAILED: the report was not written", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
