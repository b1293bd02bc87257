"""Two CPU processes with DDP (gloo) run the same train command through torchrun."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


def test_two_process_ddp_trains_registers_once_and_evaluates(tiny_model: Path, tmp_path: Path, suite_env: Path):
    rows = [("the refund arrived quickly", "happy"), ("thanks for the fast help", "happy"), ("lovely service", "happy"),
            ("my card was declined", "unhappy"), ("the app keeps crashing", "unhappy"), ("charged twice again", "unhappy")]
    data = tmp_path / "train.csv"
    data.write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in rows * 4), encoding="utf-8")
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun, "torchrun ships with torch"
    proc = subprocess.run(
        [torchrun, "--nproc_per_node", "2", "-m", "core.cli.app", "train", "text-classification", "--train", str(data),
         "--model", str(tiny_model), "--epochs", "2", "--batch-size", "4", "--no-baseline", "--json"],
        capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    decoder = json.JSONDecoder()
    outputs, text = [], proc.stdout.strip()
    while text:
        obj, end = decoder.raw_decode(text)
        outputs.append(obj)
        text = text[end:].strip()
    main = next(o for o in outputs if "version" in o)
    assert main["processes"] == 2 and {"accuracy", "macro_f1"} <= set(main["metrics"])
    assert sorted(o.get("rank", 0) for o in outputs) == [0, 1]

    listed = subprocess.run([sys.executable, "-m", "core.cli.app", "models", "list", "--json"], capture_output=True, text=True)
    assert [m["version"] for m in json.loads(listed.stdout)] == [1]  # registered by rank 0 only
    evaluated = subprocess.run([sys.executable, "-m", "core.cli.app", "evaluate", "text-classification", "--data", str(data), "--json"],
                               capture_output=True, text=True)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert "accuracy" in json.loads(evaluated.stdout)["metrics"]
