# Two commands: `make run` (set up and serve the demo) and `make test` (set up and run every test).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
export FLASK_APP := wsgi.py
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: run test venv translations messages bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed

translations: venv
	@$(BIN)/pybabel compile --statistics -d abmcontent/translations 2>&1 | tail -n 1

run: venv translations
	$(BIN)/flask db upgrade
	$(BIN)/flask demo load
	PORT=$(PORT) SCHEDULER_EMBEDDED=1 $(BIN)/flask serve

test: venv translations
	bash scripts/test.sh

# Re-extract the UI strings after changing templates or code; then translate the new ones in messages.po.
messages: venv
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o abmcontent/translations/messages.pot --no-location --sort-output --omit-header .
	$(BIN)/pybabel update -i abmcontent/translations/messages.pot -d abmcontent/translations --no-fuzzy-matching --ignore-obsolete

bench: venv
	$(BIN)/python bench/library.py

clean:
	rm -rf $(VENV) .pytest_cache
