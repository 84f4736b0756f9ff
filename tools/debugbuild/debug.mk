# overdrive under a debug build of CPython 3.11 (python3.11-dbg). Included by the top-level
# Makefile. See docs/debug-build.md.
#
#   make test-debug                         build + tests + refleaks + regrtest -R (all steps)
#   make test-debug ALLOW_REFTOTAL_SKEW=1   same, but sys.gettotalrefcount() drift under compiled
#                                           code (refcounts balanced) is reported, not failed
#   make test-debug DEBUG_STEPS='build tests'   only some steps
DEBUG_STEPS ?=
ALLOW_REFTOTAL_SKEW ?= 0

.PHONY: test-debug
test-debug:
	ALLOW_REFTOTAL_SKEW=$(ALLOW_REFTOTAL_SKEW) bash tools/debugbuild/run.sh $(DEBUG_STEPS)
