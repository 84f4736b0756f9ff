# CPython regression suite with the overdrive JIT forced on (issue 3).
# Included by the top-level Makefile, which defines PYTHON, VENV, VPY and install.
# See docs/compatibility.md.
#
#   make regrtest            core subset, JIT at threshold 0; the CI gate
#   make regrtest-full       whole suite, JIT at threshold 0 (not in CI)
#   make regrtest-baseline   whole suite + core subset on stock CPython,
#                            records tools/regrtest/expected_stock.json
#   make regrtest-tier2      core subset in tier 2's stress mode (part of make test)
#   make regrtest-selftest   checks the gate logic itself with a fake JIT
#
# Extra runner options: make regrtest REGRTEST_ARGS='--tier2'
# (or '--tests test_grammar test_patma', '--strict', '-- -v', ...).

REGRTEST_DIR  := tools/regrtest
REGRTEST      := $(REGRTEST_DIR)/run.py
REGRTEST_ARGS ?=
# The machine is shared with C builds; the suite is long.
REGRTEST_NICE ?= nice -n 10
# Stock CPython for the baseline: a venv of the same interpreter without
# overdrive installed, so that "stock" means overdrive is not even imported,
# while sys.prefix/venv layout match the JIT runs.
REGRTEST_STOCK_VENV := $(REGRTEST_DIR)/results/venv-stock
REGRTEST_STOCK_PY   := $(REGRTEST_STOCK_VENV)/bin/python

.PHONY: regrtest regrtest-full regrtest-baseline regrtest-selftest regrtest-tier2

# CI: about 15 minutes on 2 cores; the 1-hour total cap stays inside CI's
# 90 minutes even if a JIT bug makes everything crawl.
regrtest: install regrtest-selftest
	$(REGRTEST_NICE) $(VPY) $(REGRTEST) --suite core --total-timeout 3600 $(REGRTEST_ARGS)

# Tier 2's stress mode (OVERDRIVE_TIER2_THRESHOLD=0), part of `make test`
# (docs/compatibility.md, "Tier 2's stress mode"): the gate also needs
# tier-2 frames to have run (stats()["tier2"]["frames"] in the JIT figures).
regrtest-tier2: install
	$(REGRTEST_NICE) $(VPY) $(REGRTEST) --suite core --tier2 --total-timeout 3600 $(REGRTEST_ARGS)

regrtest-full: install
	$(REGRTEST_NICE) $(VPY) $(REGRTEST) --suite full $(REGRTEST_ARGS)

$(REGRTEST_STOCK_PY):
	$(PYTHON) -m venv $(REGRTEST_STOCK_VENV)

regrtest-baseline: $(REGRTEST_STOCK_PY)
	$(REGRTEST_NICE) $(REGRTEST_STOCK_PY) $(REGRTEST) --suite full --stock --record $(REGRTEST_ARGS)
	$(REGRTEST_NICE) $(REGRTEST_STOCK_PY) $(REGRTEST) --suite core --stock --record $(REGRTEST_ARGS)

regrtest-selftest:
	$(PYTHON) $(REGRTEST_DIR)/selftest.py
