"""Bulk scoring across processes (issue #20): ``suite predict text-classification --input F
--output O --workers N`` with 1 and 2 workers on the same texts (and 1 worker pinned to one core,
the per-core figure), side by side in one run, then
a ``kill -9`` half-way through a 2-worker run and ``--resume``: every input line's result
written exactly once, in input order.

    python -m bench.bulk --data ../shared/data/banking77 --texts 100000

The model is the default encoder (all-MiniLM-L6-v2, 6 layers) fine-tuned for one epoch on
a few hundred Banking77 texts: small enough that the two cores, not memory, are the limit.
The input is Banking77's training texts repeated (each line numbered) up to ``--texts``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import cpu_name, read_banking77, table
from bench.serving import MODEL, train_model


def suite_command(home: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUITE_")} | {"SUITE_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return [sys.executable, "-m", "core.cli.app", *args], env


def predict(home: Path, source: Path, output: Path, workers: int, *extra: str, one_core: bool = False) -> float:
    """Seconds of one ``suite predict --workers N`` run; ``one_core``: pinned to one core (taskset)."""
    command, env = suite_command(home, "predict", "text-classification", "--model", MODEL, "--input", str(source),
                                 "--output", str(output), "--workers", str(workers), *extra)
    command = ["taskset", "-c", "0", *command] if one_core else command
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"predict --workers {workers} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def crash_and_resume(home: Path, source: Path, output: Path, total: int) -> dict[str, object]:
    """Kill a 2-worker run (the command and its workers) once about half is written, resume it."""
    command, env = suite_command(home, "predict", "text-classification", "--model", MODEL, "--input", str(source),
                                 "--output", str(output), "--workers", "2")
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    partial = output.with_name(output.name + ".partial")
    while proc.poll() is None:
        if partial.is_file() and partial.read_bytes().count(b"\n") >= total // 2:
            os.killpg(proc.pid, signal.SIGKILL)  # the command and both workers, mid-write perhaps
            break
        time.sleep(0.05)
    proc.wait()
    written = partial.read_bytes().count(b"\n") if partial.is_file() else 0
    predict(home, source, output, 2, "--resume")
    texts = [json.loads(line)["text"] for line in source.read_text(encoding="utf-8").splitlines()]
    scored = [json.loads(line)["text"] for line in output.read_text(encoding="utf-8").splitlines()]
    return {"killed at": f"{written:,} of {total:,} lines", "lines after --resume": f"{len(scored):,}",
            "each line once, in order": "yes" if scored == texts else "NO"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/banking77"))
    parser.add_argument("--texts", type=int, default=100_000)
    parser.add_argument("--home", type=Path, help="keep the trained model here (default: a temporary folder)")
    args = parser.parse_args(argv)

    home = args.home or Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "suite.db").is_file():
        train_model(home, args.data, per_label=4, epochs=1)
    pool = [ex.text for ex in read_banking77(args.data, "train")]
    source = home / "big.jsonl"
    source.write_text("".join(json.dumps({"text": f"{pool[i % len(pool)]} ({i})"}) + "\n" for i in range(args.texts)),
                      encoding="utf-8")
    rows = []
    seconds = {"1 core": predict(home, source, home / "scored-1-core.jsonl", 1, one_core=True)}
    for workers in (1, 2):
        seconds[workers] = predict(home, source, home / f"scored-{workers}.jsonl", workers)
    for run, label in (("1 core", "1 worker, one core (taskset)"), (1, "1 worker"), (2, "2 workers")):
        rows.append({"workers": label, "seconds": f"{seconds[run]:.1f}", "texts/s": f"{args.texts / seconds[run]:,.0f}",
                     "vs 1 worker": f"{seconds[1] / seconds[run]:.2f}x", "vs one core": f"{seconds['1 core'] / seconds[run]:.2f}x"})
    same = [json.loads(line)["label"] for line in (home / "scored-1.jsonl").read_text().splitlines()]
    other = [json.loads(line)["label"] for line in (home / "scored-2.jsonl").read_text().splitlines()]
    agree = sum(a == b for a, b in zip(same, other)) / len(same)
    print(f"bulk scoring, {args.texts:,} Banking77 texts, all-MiniLM-L6-v2 fine-tuned; {cpu_name()}")
    print(table(rows, ["workers", "seconds", "texts/s", "vs 1 worker", "vs one core"]))
    print(f"labels equal between the two runs: {agree:.2%}")
    crashed = crash_and_resume(home, source, home / "crashed.jsonl", args.texts)
    print(table([crashed], list(crashed)))


if __name__ == "__main__":
    main()
