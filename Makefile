# Every target sets up what it needs: a virtualenv in .venv, the pinned CDK CLI in node_modules.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE := $(CURDIR)/.cache

# Quiet, offline-friendly tooling (Node end-of-life banners off, caches inside the project, no
# instance-metadata probes, no CLI version checks or telemetry): one file, shared with the tests,
# the benchmarks and the local cloud (ses_lambda_localcloud.tooling reads it).
include localcloud/ses_lambda_localcloud/tooling.env

.PHONY: setup test test-e2e test-py314 test-floor synth demo lint bench lock mutation clean

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

# Mutation testing (mutmut, configured in pyproject.toml's [tool.mutmut]) of the pure modules
# with their fast tests; not part of `test` (about 15 minutes). mutmut names a mutant
# after its file's path (lambda_src/ses_mail/keys.py would give lambda_src.ses_mail.keys) and
# activates it only in a module of that name, but the tests import the handler's package as the
# top-level `ses_mail` (tests/handler/handler_support.py puts lambda_src on sys.path, as in the
# Lambda asset). So mutmut runs in a small tree under build/mutation in mutmut's own src
# layout: src/ses_mail links to lambda_src/ses_mail (mutants named ses_mail.*; mutmut puts
# mutants/src first on sys.path), lambda_src/ holds links to the handler's other modules but no
# ses_mail (the tests' path entry finds handler.py there, and ses_mail in mutants/src), and
# tests, ses_lambda_constructs, app.py (the infra tests import the demo) and pyproject.toml
# are links to the real ones. Two processes at most. The per-module table:
# tools/mutation_report.py; the equivalent mutants: docs/mutation.md.
MUTATION_TREE := build/mutation
mutation: setup
	rm -rf $(MUTATION_TREE)
	mkdir -p $(MUTATION_TREE)/src $(MUTATION_TREE)/lambda_src
	ln -s $(CURDIR)/lambda_src/ses_mail $(MUTATION_TREE)/src/ses_mail
	for f in lambda_src/*; do [ "$$f" = lambda_src/ses_mail ] || ln -s $(CURDIR)/$$f $(MUTATION_TREE)/$$f; done
	ln -s $(CURDIR)/tests $(CURDIR)/ses_lambda_constructs $(CURDIR)/app.py $(CURDIR)/pyproject.toml \
		$(MUTATION_TREE)/
	cd $(MUTATION_TREE) && $(CURDIR)/$(BIN)/mutmut run --max-children 2
	$(BIN)/python tools/mutation_report.py $(MUTATION_TREE)

clean:
	rm -rf cdk.out build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
