# overdrive — top-level make targets. Each area keeps its own targets in an included file.
PYTHON ?= python3
VENV   ?= .venv
VPY    := $(VENV)/bin/python

.PHONY: venv install test clean

# A private virtual environment with overdrive and its test dependencies installed.
venv: $(VPY)
$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip

# build/ is removed first: pip builds in the work tree, and setuptools decides what to
# recompile from file times, which a checkout or stash can leave misleading.
install: $(VPY)
	rm -rf build
	$(VPY) -m pip install -q '.[test]'

# The README's test command: the project's test suite, then again in tier 2's stress mode
# (OVERDRIVE_TIER2_THRESHOLD=0: every function tier 2 accepts runs in tier 2 from its first
# call; docs/tier2.md, "Stress mode"), then the core of CPython's regression suite with the
# JIT forced on (tools/regrtest, docs/compatibility.md), then that core subset in tier 2's
# stress mode (docs/compatibility.md, "Tier 2's stress mode"). All four must pass.
test: install
	$(VPY) -m pytest -q tests
	OVERDRIVE_TIER2_THRESHOLD=0 $(VPY) -m pytest -q tests
	$(MAKE) regrtest
	$(MAKE) regrtest-tier2

clean:
	rm -rf build dist *.egg-info $(VENV)

-include bench/bench.mk
-include tools/regrtest/regrtest.mk
-include tools/debugbuild/debug.mk
