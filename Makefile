# HeatDesk: `make run` brings everything up, `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help setup venvs redis train frontend run test test-rasa test-svc test-scale eval crossval bench soak chat validate test-stories browser webchat clean

export PYTHONPATH := $(CURDIR)
export RASA_PORT ?= 5005
export ACTION_PORT ?= 5055
export CONSOLE_PORT ?= 8000
export BILLING_PORT ?= 8100
export REDIS_URL ?= redis://localhost:6379/0
export BILLING_URL ?= http://localhost:$(BILLING_PORT)
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONWARNINGS ?= ignore::DeprecationWarning

RASA_VENV := .venv/rasa
SVC_VENV := .venv/svc
RASA_PY := $(RASA_VENV)/bin/python
SVC_PY := $(SVC_VENV)/bin/python

help:
	@echo "make run      - set up, train if needed, start every process, print the URLs and demo login"
	@echo "make test     - set up, train if needed, run the whole test suite (browser tests included)"
	@echo "make train    - train the Rasa model when its inputs changed (cached in var/models)"
	@echo "make eval     - intent accuracy, macro-F1, confusions, anger precision/recall on the four held-out sets"
	@echo "make crossval - 3-fold cross-validation of the NLU pipeline (slow; SEED=n draws other folds)"
	@echo "make bench    - benchmarks (see docs/benchmarks.md)"
	@echo "make soak     - 10 000 short conversations: Redis keys and memory return to a plateau (docs/deployment.md)"
	@echo "make chat     - talk to the bot in the terminal (rasa shell)"
	@echo "make validate - rasa data validate; make test-stories - rasa test core on tests/stories"

$(RASA_VENV)/.installed: requirements/rasa.lock
	@rm -rf $(RASA_VENV)
	"$$(scripts/find_python310.sh)" -m venv $(RASA_VENV)
	@mkdir -p var
	$(RASA_PY) -m pip install -q -r requirements/rasa.lock > var/pip-rasa.log 2>&1 || { tail -30 var/pip-rasa.log; exit 1; }
	$(RASA_PY) -c "import rasa, rasa_sdk, jieba, spacy, redis, socketio, cryptography, defusedxml"
	@touch $@

$(SVC_VENV)/.installed: requirements/service.lock
	@rm -rf $(SVC_VENV)
	python3 -m venv $(SVC_VENV)
	@mkdir -p var
	$(SVC_PY) -m pip install -q -r requirements/service.lock > var/pip-svc.log 2>&1 || { tail -30 var/pip-svc.log; exit 1; }
	$(SVC_PY) -c "import fastapi, sqlalchemy, uvicorn, redis, playwright, honcho"
	@touch $@

venvs: $(RASA_VENV)/.installed $(SVC_VENV)/.installed

redis:
	@scripts/ensure_redis.sh

train: $(RASA_VENV)/.installed
	@scripts/train.sh

browser:
	@scripts/ensure_chromium.sh

# The real rasa-webchat for tests/browser/test_rasa_webchat.py (test-only, git-ignored).
webchat:
	@scripts/ensure_webchat.sh

# Front-end packages from npm (socket.io-client, Chart.js, axe-core); the vendored copies are
# committed, so these only refresh them when a package-lock.json changed.
frontend:
	@scripts/vendor_npm.sh widget console/static/widget/vendor \
	  socket.io-client/dist/socket.io.min.js=socket.io.min.js socket.io-client/LICENSE=socket.io-client.LICENSE
	@scripts/vendor_npm.sh console_ui console/static/app/vendor \
	  chart.js/dist/chart.umd.min.js=chart.umd.min.js chart.js/LICENSE.md=chart.js.LICENSE \
	  axe-core/axe.min.js=axe.min.js axe-core/LICENSE=axe-core.LICENSE

setup: venvs redis train frontend

# The environment wins; $(DEMO_ENV) (generated once) fills only the settings left unset.
DEMO_ENV ?= var/demo.env

run: setup
	@scripts/demo_env.sh $(DEMO_ENV)
	@exec $(SVC_PY) scripts/run.py --demo-env $(DEMO_ENV)

test: setup browser webchat test-rasa test-svc test-scale

test-rasa:
	$(RASA_PY) -m pytest -q -p no:cacheprovider tests/contract tests/bot tests/actions tests/connectors

test-svc:
	$(SVC_PY) -m pytest -q -p no:cacheprovider tests/contract tests/billing_client tests/billing_service tests/console tests/e2e tests/browser tests/security tests/ops
	$(SVC_PY) -m pytest -q -p no:cacheprovider tests/bench

# Two Rasa + two action servers behind nginx with a Redis of their own; faults and fuzzing against it.
test-scale: setup
	@scripts/ensure_nginx.sh
	$(SVC_PY) -m pytest -q -p no:cacheprovider tests/scale tests/faults tests/fuzz

soak: $(RASA_VENV)/.installed
	$(RASA_PY) scripts/soak.py --conversations 10000 --ttl 60

eval: train
	$(RASA_PY) scripts/eval_nlu.py --model var/models/current.tar.gz

crossval: $(RASA_VENV)/.installed
	$(RASA_PY) scripts/crossval.py --seed $(or $(SEED),0)

bench: setup
	$(SVC_PY) scripts/bench.py

chat: setup
	$(RASA_VENV)/bin/rasa shell --model var/models/current.tar.gz --endpoints endpoints.yml

# Rasa's own checks on this project's files (README, "Rasa's own tools").
validate: $(RASA_VENV)/.installed
	$(RASA_VENV)/bin/rasa data validate --config config.yml --domain domain.yml --data nlu_data

test-stories: train
	$(RASA_VENV)/bin/rasa test core --model var/models/current.tar.gz --stories tests/stories \
	  --endpoints endpoints.yml --out var/rasa-test

clean:
	rm -rf var/models var/*.db var/test-*
