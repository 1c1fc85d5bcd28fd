# tuneport — the two commands: `make demo` and `make test`. Each sets itself up.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PIP_RETRIES := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONUNBUFFERED := 1

VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TS_SOURCES := $(shell find src -name '*.ts' -not -name '*.test.ts' 2>/dev/null)
# What `dist` is built from: the testing kit (src/testing/) is for tests and benchmarks only.
BUILD_SOURCES := $(filter-out src/testing/%,$(TS_SOURCES))
# The dashboard's browser sources, bundled by esbuild into dist/web (web/dashboard/build.mjs).
WEB_SOURCES := $(wildcard web/dashboard/*.ts web/dashboard/*.css web/dashboard/*.mjs)

.PHONY: help demo test test-ts test-py build deps venv typecheck chromium iproute2 bench-dashboard package fuzz postgres bench-postgres soak-failover bench bench-protocol bench-report bench-input-check bench-quality bench-overhead bench-multifidelity bench-multiobjective bench-ctpe bench-pbt bench-pbt-tasks bench-hypergradient bench-load bench-client bench-reads bench-reads-cpu bench-server-cpu clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

node_modules/.stamp: package.json package-lock.json
	npm ci --no-fund --no-audit
	@touch $@

dist/.stamp: node_modules/.stamp $(BUILD_SOURCES) $(WEB_SOURCES) scripts/bundle-vega.mjs tsconfig.json tsconfig.build.json
	rm -rf dist
	npm run build
	chmod +x dist/cli/main.js
	@touch $@

$(VENV)/.stamp: python-client/pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PIP) install -q -e './python-client[torch]' pytest mypy scikit-learn optuna numpy scipy cma pytorch-lightning matplotlib pandas tqdm greenlet psycopg2-binary pytest-xdist
	@touch $@

# Debian's PostgreSQL server binaries (initdb, pg_ctl): the tests start a throw-away server with them.
PG_INITDB := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb))
postgres: ## install Debian's postgresql package when its server binaries are missing
	@if [ -z "$(PG_INITDB)" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "installing postgresql (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; fi

deps: node_modules/.stamp ## install npm dependencies
build: dist/.stamp ## compile the TypeScript server
venv: $(VENV)/.stamp ## the Python virtualenv with the client, torch and test tools

demo: build venv ## start a server on a temp SQLite file, tune a PyTorch MLP on digits, print the best
	$(PY) examples/demo.py

typecheck: dist-bench/.stamp ## type-check sources, tests and the dashboard's browser code
	npx tsc -p web/dashboard/tsconfig.json

# The browser tests drive Debian's chromium through playwright-core (never a downloaded browser).
chromium: ## install Debian's chromium for the dashboard's browser tests when it is missing
	@test -x /usr/bin/chromium || { if [ "$$(id -u)" = 0 ]; then S=; else S="sudo -n"; fi; \
	  $$S apt-get update -qq && $$S apt-get install -y -qq chromium; }

# `ip` for test/http-ipv6-prefix.test.ts, which sets up routes in a user and network namespace of its own (`unshare`, util-linux).
iproute2: ## install Debian's iproute2 (the ip command) for the IPv6 namespace test when it is missing
	@command -v ip >/dev/null || { if [ "$$(id -u)" = 0 ]; then S=; else S="sudo -n"; fi; \
	  $$S apt-get update -qq && $$S apt-get install -y -qq iproute2; }

test-ts: build typecheck postgres chromium iproute2 venv ## TypeScript unit and integration tests (SQLite and a throw-away PostgreSQL; the dashboard in chromium)
	npx vitest run

# Two pytest workers (pytest-xdist): 433 s against 532 s on one process, back to back on a loaded 2-core machine.
# Given here, not in pyproject's addopts, so that a hand-run `pytest tests/test_x.py` needs no xdist.
test-py: build dist-bench/.stamp venv postgres ## Python client tests (real server processes) and examples
	cd python-client && ../$(VENV)/bin/mypy
	cd python-client && ../$(PY) -m pytest -q -n 2

# The set-up's long steps are one process each (npm ci compiling better-sqlite3, pip, tsc): on a
# clean clone they run two at a time first, so the second core is not idle (docs/TESTING.md).
test: ## the whole suite (what CI runs)
	$(MAKE) -j2 --no-print-directory dist/.stamp dist-bench/.stamp $(VENV)/.stamp
	$(MAKE) --no-print-directory test-ts test-py

fuzz: build ## the concurrency fuzzer at length: 10 seeds x 30,000 requests (FUZZ_SEEDS=1,2 FUZZ_REQUESTS=N to change)
	FUZZ_SEEDS=$${FUZZ_SEEDS:-1,2,3,4,5,6,7,8,9,10} FUZZ_REQUESTS=$${FUZZ_REQUESTS:-30000} \
	  nice -n 10 npx vitest run test/concurrency-fuzz.test.ts --testTimeout 3600000

package: build venv ## packages/: the server tarball (npm install -g) and the client wheel (pip install), see docs/PACKAGING.md
	rm -rf packages && mkdir -p packages
	npm pack --pack-destination packages
	$(PIP) wheel ./python-client --no-deps --wheel-dir packages
	rm -rf python-client/build
	@ls -1 packages

bench-protocol: build venv ## ask+tell round trips vs the zmq echo floor and Optuna (results in docs/BENCHMARKS.md)
	$(PY) bench/protocol.py

bench-report: build venv ## synchronous report round trip vs the zmq echo floor, lazy vs commit-before-reply (issue 19 item 1)
	nice -n 19 $(PY) bench/report_latency.py

bench-postgres: build dist-bench/.stamp venv postgres ## tuneport on PostgreSQL vs on SQLite vs Optuna RDBStorage on the same PostgreSQL; 1/32/128 workers, random/TPE -> bench/results/postgres.json
	nice -n 10 $(PY) bench/postgres.py $(if $(QUICK),--quick,)

soak-failover: build dist-bench/.stamp venv postgres ## crash soak across 3 servers on PostgreSQL: 32 workers, the owner SIGKILLed 10 times -> bench/results/failover.json
	$(PY) bench/failover_soak.py --servers 3 --workers 32 --kills 10 --out bench/results/failover.json

bench-input-check: build venv ## cost of the request checks: frame walk vs decode, round trips vs a baseline build (docs/BENCHMARKS.md)
	nice -n 10 $(PY) bench/input_check.py $(if $(QUICK),--quick,)

bench-pbt: dist-bench/.stamp ## PBT/PB2 on the paper's toy (vs grid, ablations) and a learning-rate-schedule problem (vs TPE, random, ASHA+TPE, cosine+TPE)
	node bench/pbt.mjs

bench-pbt-tasks: build venv ## PBT/PB2 vs TPE, ASHA+TPE, random, cosine+TPE on 5 PyTorch tasks, 10 seeds (about 40 min on one idle core; docs/BENCHMARKS.md shows 2 shards)
	nice -n 10 $(PY) bench/pbt_tasks.py
	nice -n 10 $(PY) bench/pbt_checkpoint_cost.py

bench-hypergradient: build venv ## hypergradient strategy vs TPE and random on 5 weight-decay tasks; LR rescue; Neumann terms, 10 seeds (about 35 min on one idle core)
	nice -n 10 $(PY) bench/hypergradient.py --part wd --out wd
	nice -n 10 $(PY) bench/hypergradient.py --part lr --out lr
	$(PY) bench/hypergradient.py --merge wd,lr
	nice -n 10 $(PY) bench/neumann_steps.py

bench-multiobjective: build venv ## issue 15: tuneport's multi-objective strategies vs Optuna 5.0 on ZDT1-3, DTLZ2, Binh-Korn and the digits MLP (reduced: 3 seeds, budget 100; MO_ARGS="--seeds 10 --budgets 100,200 --gp --plot docs/img" for the full size); merged into the recorded rows, never replacing the file
	nice -n 19 $(PY) bench/multiobjective.py --merge $(MO_ARGS)

bench-ctpe: dist-bench/.stamp ## issue 15: c-TPE vs Optuna's feasible-first split in tpe on constrained problems, 20 seeds (about 25 s) -> bench/results/ctpe.json
	nice -n 19 node dist-bench/bench/ctpe-compare.js 20 50,100,200 bench/results/ctpe.json

bench-multifidelity: build venv ## ASHA/Hyperband/BOHB/median vs Optuna's pruners and full-budget random search (docs/BENCHMARKS.md)
	$(PY) bench/multifidelity.py

bench-dashboard: build chromium ## dashboard: page load at 10,000 trials, tell-to-pixel, cost per dashboard, tell p99 with 20 dashboards (docs/BENCHMARKS.md)
	nice -n 19 node bench/dashboard.mjs $(if $(QUICK),--quick,)
	nice -n 19 node --expose-gc bench/dashboard-memory.mjs 200

bench-client: build venv ## training-loop overhead of report (blocking, non-blocking) vs Optuna RDB/Journal (QUICK=1: shorter)
	nice -n 19 $(PY) bench/client_loop.py $(if $(QUICK),--quick,)

bench-reads: build ## read ops, MCP-free, at 1k/10k/100k trials over ZeroMQ + the CLI list (BASELINE=dist dir of another build: before/after)
	nice -n 19 node bench/reads.mjs $(if $(BASELINE),--baseline $(BASELINE),) $(if $(SIZES),--sizes $(SIZES),)

bench-reads-cpu: build ## server CPU per read on a 100k-trial study, in process (BASELINE=dist dir of another build: alternated)
	nice -n 19 node bench/reads-cpu.mjs $(if $(BASELINE),--baseline $(BASELINE),) $(if $(TRIALS),--trials $(TRIALS),)

bench-server-cpu: build ## server CPU per random ask+tell request, with a --cpu-prof breakdown (docs/BENCHMARKS.md)
	nice -n 19 node bench/server-cpu.mjs --trials $(or $(TRIALS),2000)

bench-load: build venv ## load: 32/128 workers, random/TPE; tuneport vs Optuna 5.0 (RDB SQLite, Journal) -> bench/results/load.json
	node bench/load.mjs --clients 32,128 --strategies random,tpe --trials random=100000,tpe=3000 --label tuneport
	for s in rdb journal; do for w in 32 128; do \
	  $(PY) bench/load_optuna.py --workers $$w --storage $$s --sampler random --seconds 20 --out bench/results/load.json; done; \
	  $(PY) bench/load_optuna.py --workers 32 --storage $$s --sampler tpe --seconds 20 --out bench/results/load.json; done

# One tsc pass type-checks sources, tests, benches and examples (tsconfig.json) and emits them to
# dist-bench/, where the benches run from: a second pass over src for the benches alone (tsconfig.bench.json,
# kept for a hand-run) cost ~50 s of CPU in a clean clone's set-up.
TEST_TS := $(shell find test examples -name '*.ts' 2>/dev/null) $(shell find src -name '*.test.ts' 2>/dev/null)
dist-bench/.stamp: node_modules/.stamp $(TS_SOURCES) $(TEST_TS) $(wildcard bench/*.ts) tsconfig.json
	rm -rf dist-bench
	npx tsc -p tsconfig.json --noEmit false --outDir dist-bench --rootDir . --declaration false --sourceMap false
	@touch $@

# Optuna's CmaEsSampler needs the `cmaes` package, which the local wheel store lacks; Debian ships it
# (pure Python, python3-cmaes), so the benchmarks unpack that into the virtualenv. Not needed by `make test`.
$(VENV)/.cmaes: $(VENV)/.stamp
	cd $(VENV) && (apt-get download python3-cmaes 2>/dev/null || (apt-get update -qq && apt-get download python3-cmaes))
	cd $(VENV) && rm -rf cmaes-deb && dpkg -x python3-cmaes_*.deb cmaes-deb && rm -f python3-cmaes_*.deb
	echo "$(abspath $(VENV))/cmaes-deb/usr/lib/python3/dist-packages" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/cmaes-deb.pth"
	$(PY) -c 'import cmaes'
	@touch $@

bench-quality: build venv $(VENV)/.cmaes ## issue 17's suite: tuneport strategies vs Optuna 5.0 (sequential, 4 and 8 workers) (QUICK=1: smoke mode; QUALITY_ARGS=--holdout: the held-out problems)
	nice -n 10 $(PY) bench/quality.py $(if $(QUICK),--quick,) $(QUALITY_ARGS)
	$(if $(QUICK),,$(PY) bench/goals.py)

bench-overhead: build venv dist-bench/.stamp ## suggestion time vs n and dim beside Optuna, server RSS at 10k trials, tell p99 under GP load
	nice -n 10 $(PY) bench/overhead.py $(if $(QUICK),--quick,)
	nice -n 10 $(PY) bench/gp-tell-latency.py $(if $(QUICK),--seconds 5 --history 50 --no-docs,)
	$(if $(QUICK),,$(PY) bench/goals.py)

clean: ## remove build outputs and the virtualenv
	rm -rf dist dist-bench $(VENV) node_modules
