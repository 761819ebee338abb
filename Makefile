# The two commands of README: `make run` (the service on its embedded default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := $(wildcard plugins/uws_*)
STAMP := $(VENV)/.installed

.PHONY: run test install clean

$(STAMP): setup.cfg $(foreach p,$(PLUGINS),$(p)/setup.cfg)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[testing]' $(foreach p,$(PLUGINS),-e $(p))
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/pserve development.ini

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var
