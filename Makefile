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
	@# Jobs run in a bubblewrap sandbox: install it where we can (root with apt), else the
	@# server starts with one warning line that jobs are not isolated.
	@command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null; } || true
	$(BIN)/pserve development.ini

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var
