"""The READMEs' shell blocks, run as written against the sample data (issue 14's walk).

Every ``suite`` command in a ```bash block of the README and the plugin READMEs runs in a
fresh SUITE_HOME, in block order, from a folder that sees the repository's ``plugins/`` and
``examples/`` (so outputs such as ``-o replies.jsonl`` land there, not in the checkout). A
command is a template, and is skipped, when it names an input file that does not exist (the
user's ``tickets.csv``), shows optional parts (``[--eval dev.csv]``, ``...``, ``a|b``), needs
a key, a server or a stream that never ends; the test counts what ran so it cannot pass by
skipping everything. The encoder is the tiny test model (``SUITE_MODEL``), so training is quick.
Run it with ``pytest -m slow tests/test_readme.py`` (CI does, after ``make test``).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
READMES = {"README.md": 12, "plugins/customer_service/README.md": 5, "plugins/recommendation/README.md": 5}
BLOCK = re.compile(r"```(?:bash|sh|shell)\n(.*?)```", re.S)
INPUT_OPTIONS = {"--train", "--eval", "--data", "--items", "--interactions", "--users", "--input", "-i", "--feed",
                 "--watchlist", "--train-extra", "--truth"}
OUTPUT_OPTIONS = {"--output", "-o", "--out", "--report"}
NEVER_ENDS = ("--follow", "stdin:", "dir:", "sql:", "redis://", "kafka", "nats://", "amqp://", "mqtt://")
# Scenarios whose predict/evaluate/run read the model their train registered (not finance-monitor:
# with no model it trains one on the packaged samples).
SCENARIO_MODELS = {"text-classification", "token-classification", "customer-service", "finance-sentiment",
                   "recommendation"}
CATALOGUE_ONLY = ("multilingual-e5-small", "all-mpnet-base-v2")
TEMPLATE = re.compile(r"\[|\.\.\.|sk-|\b[0-9a-f]{8}\b|\|")


def commands(text: str) -> list[list[str]]:
    """Each command of each shell block: continuation lines joined, comments dropped, ``;``
    split, ``NAME=value`` lines substituted into the lines after them."""
    out: list[list[str]] = []
    for block in BLOCK.findall(text):
        variables: dict[str, str] = {}
        for line in block.replace("\\\n", " ").splitlines():
            for part in re.split(r"\s;\s", line):
                try:
                    words = shlex.split(part, comments=True)
                except ValueError:
                    continue
                if len(words) == 1 and re.fullmatch(r"[A-Z]+=\S+", words[0]):
                    name, value = words[0].split("=", 1)
                    variables[name] = value
                    continue
                words = [re.sub(r"\$(\w+)", lambda m: variables.get(m.group(1), m.group(0)), w) for w in words]
                if words:
                    out.append(words)
    return out


def skip_reason(words: list[str], cwd: Path, trained: set[str]) -> str | None:
    line = " ".join(words)
    if words[0] != "suite":
        return "not a suite command"
    verb, name = (words[1:3] + ["", ""])[:2]
    model = next((value for option, value in zip(words, words[1:]) if option in ("--model", "-m")), None)
    if verb in ("predict", "evaluate", "run") and (model or name) not in trained and name in SCENARIO_MODELS:
        return f"uses the model of a {name} training the README shows as a template"
    if words[1:3] == ["models", "activate"] and words[3] not in trained:
        return f"activates '{words[3]}', which the README does not train"
    if words[1:3] == ["models", "compare"] and any(w.split(":")[0] not in trained for w in words[3:5]):
        return "compares models the README does not train (or trains as a template)"
    if TEMPLATE.search(line):
        return "a template (optional parts, alternatives, a key or an id to fill in)"
    if any(marker in line for marker in NEVER_ENDS):
        return "a stream that never ends, or a service URL"
    if words[1:3] == ["models", "install"] or any(name in line for name in CATALOGUE_ONLY):
        return "installs from the package index, or needs a catalogue model the walk does not install"
    if words[1:2] == ["serve"] or words[1:3] == ["plugins", "new"]:
        return "a server, or a scaffold written to the working folder"
    if words[1:3] == ["run", "customer-service"] and not ({"--input", "-i"} & set(words)):
        return "the interactive chat"
    if words[1:3] == ["cs", "feedback"]:
        return "needs a logged turn id"
    for option, value in zip(words, words[1:]):
        if option in INPUT_OPTIONS and not (cwd / value).exists():
            return f"{option} {value}: the user's own file"
        if option == "--source" and value.startswith("file:") and not (cwd / value[5:]).exists():
            return f"--source {value}: the user's own file"
    if words[1:3] == ["data", "inspect"] and not (cwd / words[3]).exists():
        return f"{words[3]}: the user's own file"
    if any(w.startswith("file:") and not (cwd / w[5:]).exists() for w in words):
        return "a source that is the user's own file"
    return None


@pytest.mark.slow  # about 3 minutes a README on 2 cores: CI runs it after `make test` (.ci/run)
@pytest.mark.parametrize("readme", sorted(READMES))
def test_every_command_of_the_readme_runs_as_written(readme: str, tiny_model: Path, tmp_path: Path) -> None:
    work = tmp_path / "readme-walk"
    work.mkdir()
    for name in ("plugins", "examples"):
        (work / name).symlink_to(ROOT / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUITE_")}
    env |= {"SUITE_HOME": str(tmp_path / "readme-home"), "SUITE_MODEL": str(tiny_model), "HF_HUB_OFFLINE": "1",
            "COLUMNS": "120"}
    suite = Path(sys.executable).with_name("suite")
    ran, failures = [], []
    trained: set[str] = set()
    for words in commands((ROOT / readme).read_text(encoding="utf-8")):
        if skip_reason(words, work, trained) is not None:
            continue
        done = subprocess.run([str(suite), *words[1:]], cwd=work, env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=600)
        ran.append(" ".join(words))
        if words[1] == "train" and done.returncode == 0:
            trained.add(next((v for o, v in zip(words, words[1:]) if o == "--name"), words[2]))
        if done.returncode != 0:
            failures.append(f"{' '.join(words)}\n  exit {done.returncode}: {(done.stderr or done.stdout)[-600:]}")
    assert not failures, f"{readme}: commands that fail as written:\n" + "\n".join(failures)
    assert len(ran) >= READMES[readme], f"{readme}: only {len(ran)} command(s) ran: {ran}"
    assert not any(p.is_file() for p in (ROOT / "plugins").rglob("*.jsonl") if p.stat().st_mtime > tmp_path.stat().st_mtime
                   and p.parent.name != "samples")
