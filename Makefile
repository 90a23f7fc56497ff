# Every target sets up what it needs: a virtualenv in .venv, the pinned CDK CLI in node_modules.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE := $(CURDIR)/.cache

# Quiet, offline-friendly tooling (Node end-of-life banners off, caches inside the project, no
# instance-metadata probes, no CLI version checks or telemetry): one file, shared with the tests,
# the benchmarks and the local cloud (ses_lambda_localcloud.tooling reads it).
include localcloud/ses_lambda_localcloud/tooling.env

.PHONY: setup test test-e2e test-py314 test-floor synth demo lint bench lock clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml setup.py localcloud/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required, found " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e ./localcloud
	@touch $@

node_modules/.installed: package.json package-lock.json
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' || { echo "Node 18+ is required"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Two workers (pytest-xdist): each has its own session fixtures, local clouds on free ports.
# The end-to-end stage (the real CDK CLI in a user's project, builds of both distributions, the
# handler's asset built twice from clean caches) runs apart, in test-e2e; CI runs both.
test: setup
	$(BIN)/python -m pytest -n 2 -m "not slow"

test-e2e: setup
	$(BIN)/python -m pytest -n 2 -m slow

# The handler suite, the 3.11/3.14 output parity and one local-cloud delivery under Python 3.14
# (Lambda's python3.14 runtime): a python3.14 on PATH, else a cached Debian sid chroot in
# .cache/py314-sid (root and debootstrap). See docs/local-cloud.md, "Python 3.14 stage".
test-py314: setup
	.ci/py314

# The lowest aws-cdk-lib and constructs pyproject.toml declares, in a fresh virtualenv: the demo
# (default and hardened) and the examples synthesize with them.
test-floor: setup
	PYTHON=$(PYTHON) .ci/floor

synth: setup
	npx --no-install cdk synth --quiet
	@echo "Demo template written to cdk.out/SesLambdaDemo.template.json"

# KEEP=1 leaves the stack deployed and the local cloud (and its inbox page) running;
# VERBOSE=1 prints each message's whole report.
demo: setup
	$(BIN)/python -m ses_lambda_localcloud.demo $(if $(KEEP),--keep) $(if $(VERBOSE),--verbose)

bench: setup
	$(BIN)/python bench/run.py

# Re-lock the functions' bundled dependencies (lambda_src/requirements.in -> requirements.txt,
# every distribution pinned with its sha256) after changing requirements.in.
lock: setup
	$(BIN)/python tools/lock_lambda_requirements.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd lambda_src && MYPYPATH=. ../$(BIN)/mypy --strict --explicit-package-bases -m aws_io -m handler -m gate -m forwarder -m reply_split -p ses_mail

clean:
	rm -rf cdk.out build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
