# make run  : create .venv if missing, install what running needs, check Qt's system libraries
#             (installs missing xcb libraries with apt-get as root, else prints the command), start the
#             application on a demo setup (no hardware)
# make test : create .venv if missing, install with test extras, run the test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
DEMO ?= mimocorb_gui/setups/simple/setup.yaml

.PHONY: run test test-floor venv lint bench screenshots bundle test-bundle install-desktop clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -e ".[test]"
	touch $(STAMP)

$(RUN_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -e .
	touch $(RUN_STAMP)

venv: $(STAMP)

run: $(RUN_STAMP)
	$(BIN)/python scripts/qt_xcb_libs.py
	$(BIN)/mimocorb $(DEMO)

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

LINT_PATHS := mimocorb_gui mimocorb2 tests benchmarks scripts
lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/lint-imports

# make test-floor: the setup model's tests against the oldest ruamel.yaml pyproject.toml allows
RUAMEL_FLOOR := $(shell sed -n 's/.*"ruamel\.yaml>=\([0-9.]*\).*/\1/p' pyproject.toml)
FLOOR_VENV := .venv-floor
FLOOR_STAMP := $(FLOOR_VENV)/.installed-$(RUAMEL_FLOOR)

$(FLOOR_STAMP): pyproject.toml
	$(PY) -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/python -m pip install -e ".[test]" "ruamel.yaml==$(RUAMEL_FLOOR)"
	touch $(FLOOR_STAMP)

test-floor: $(FLOOR_STAMP)
	QT_QPA_PLATFORM=offscreen $(FLOOR_VENV)/bin/python -m pytest -q -m "not slow" -p no:cacheprovider \
		$(wildcard tests/test_setup*.py) tests/test_yaml_values.py tests/test_editor.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_ringbuffer.py

# make screenshots: offscreen grabs of the main window during a run of each example setup -> docs/screenshots/
screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python scripts/screenshots.py
	@if [ -f scripts/editor_screenshots.py ]; then QT_QPA_PLATFORM=offscreen $(BIN)/python scripts/editor_screenshots.py; fi

# make bundle        : one-folder PyInstaller bundle dist/mimocorb/ (pyinstaller from the `bundle` extra)
# make test-bundle   : build it, then run the slow tests (they use the bundle from outside the source tree)
# make install-desktop: launcher, icon and setup-file association for this user (~/.local, no root)
BUNDLE_STAMP := $(VENV)/.installed-bundle

$(BUNDLE_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -e ".[test,bundle]"
	touch $(BUNDLE_STAMP)

bundle: $(BUNDLE_STAMP)
	@start=$$(date +%s); \
	$(BIN)/pyinstaller --noconfirm --log-level WARN mimocorb.spec && \
	echo "bundle built in $$(( $$(date +%s) - start )) s: $$(du -sh dist/mimocorb | cut -f1) in dist/mimocorb/"

test-bundle: bundle
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -m slow $(PYTEST_ARGS)

install-desktop: $(STAMP)
	$(BIN)/mimocorb install-desktop

clean:
	rm -rf $(VENV) $(FLOOR_VENV) build dist *.egg-info
