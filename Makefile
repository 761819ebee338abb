# The two commands of README: `make run` (the service on its embedded default) and `make test`;
# and the habits: `make lint`, `make typecheck`, `make docs` (README's settings tables), `make wheels`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := $(wildcard plugins/uws_*)
EXAMPLE := examples/uws_memory
STAMP := $(VENV)/.installed

.PHONY: run test install clean lint typecheck docs wheels

$(STAMP): pyproject.toml $(foreach p,$(PLUGINS) $(EXAMPLE),$(p)/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[testing,dev]' $(foreach p,$(PLUGINS) $(EXAMPLE),-e $(p))
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@# Jobs run in a bubblewrap sandbox: install it where we can (root with apt), else the
	@# server starts with one warning line that jobs are not isolated.
	@command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null; } || true
	$(BIN)/pserve development.ini

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var

# One ruff and one mypy configuration (pyproject.toml) for the core, every plugin and the example.
LINTED := uws_pyramid tests bench tools $(PLUGINS) $(EXAMPLE)

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

# mypy: strict on the core, the plugins and the example, except the modules that meet untyped
# libraries (pyproject.toml lists them: checked, but their Any values may flow).
typecheck: $(STAMP)
	$(BIN)/mypy uws_pyramid $(foreach p,$(PLUGINS),$(p)/$(notdir $(p))) $(EXAMPLE)/uws_memory

docs: $(STAMP)
	$(BIN)/python tools/settings_docs.py

# The core's, every plugin's and the example's wheels, built and checked (twine), installed
# into a clean virtualenv (not editable) where the example's and uws-sqlite's tests run
# against the shipped contract suites (examples/check-wheels.sh).
wheels: $(STAMP)
	PYTHON=$(BIN)/python examples/check-wheels.sh
