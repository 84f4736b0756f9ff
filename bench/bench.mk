# Benchmark targets (issue 4); included by the top-level Makefile, which
# defines VENV, VPY and the install target. See docs/performance.md.

BENCH_DEPS := $(VENV)/.bench-deps-installed

.PHONY: bench bench-quick bench-warmup bench-report bench-publish bench-scripts demo

# Harness dependencies go into the project venv from PyPI; the stamp
# re-installs them whenever bench/requirements.txt changes.
$(BENCH_DEPS): bench/requirements.txt | $(VPY)
	$(VPY) -m pip install -q -r bench/requirements.txt
	touch $@

## bench: every stdlib-only pyperformance benchmark, stock vs overdrive (~40 min);
## BENCH_ARGS is passed on (e.g. BENCH_ARGS="--tier2-threshold 50": tier 2 on)
bench: install $(BENCH_DEPS)
	$(VPY) bench/harness.py --profile full $(BENCH_ARGS)

## bench-quick: 14 CPU-bound benchmarks, stock vs overdrive (~5 min)
bench-quick: install $(BENCH_DEPS)
	$(VPY) bench/harness.py --profile quick $(BENCH_ARGS)

# The packages whose test suites bench-scripts runs (pytest itself comes with '.[test]').
SCRIPTS_DEPS := $(VENV)/.bench-scripts-deps-installed
$(SCRIPTS_DEPS): bench/scripts-requirements.txt | $(VPY)
	$(VPY) -m pip install -q -r bench/scripts-requirements.txt
	touch $@

## bench-scripts: short whole programs and PyPI test suites, stock vs overdrive, as
## whole processes (~6 min); SCRIPTS_ARGS="--callgrind" counts instructions instead
bench-scripts: install $(SCRIPTS_DEPS)
	$(VPY) bench/scripts.py $(SCRIPTS_ARGS)

## bench-warmup: only the warm-up view (time of the first iterations)
bench-warmup: install $(BENCH_DEPS)
	$(VPY) bench/warmup.py --profile full

## bench-report: re-render tables and charts of the last full run
bench-report: $(BENCH_DEPS)
	$(VPY) bench/report.py bench/results/full/results.json

## bench-publish: copy the last full run into bench/published/ and docs/performance.md
bench-publish: $(BENCH_DEPS)
	$(VPY) bench/publish.py bench/results/full

## demo: n-body with and without the JIT, times and what was compiled (~1 min)
demo: install
	$(VPY) bench/demo.py
