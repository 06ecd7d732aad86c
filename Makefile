# newstag — set-up and everyday tasks. Each target installs what it needs into .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
SHARED ?= ../shared
SAMPLE ?= $(firstword $(wildcard $(SHARED)/seeds/*.txt) $(wildcard seeds/*.txt))

.PHONY: demo test model bench install bytecode native clean

# Tag a sample article with the shipped model.
demo: bytecode native
	$(BIN)/newstag predict $(SAMPLE) --format table

# Run the test suite.
test: bytecode native
	$(BIN)/python -m pytest -q

install: bytecode native

# Byte-compile newstag's own modules (only those changed since). An editable
# install leaves that to the first import, which never does it where
# PYTHONDONTWRITEBYTECODE is set (as on our CI machines): every start then
# compiled them from source, 0.1 s of each run, a quarter of a one-article one.
bytecode: $(VENV)/.installed
	$(BIN)/python -m compileall -q newstag model training

# Compile the kernels ahead of time (see model/native.py) unless a module for
# their current source is built: about 25 s after a kernel changed, else 0.1 s.
native: $(VENV)/.installed
	$(BIN)/python -m newstag.model.native --if-missing

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,dask,bench]'
	# compile the kernels once now (about a minute: numba's, then ahead of time), not in a tagging run
	$(BIN)/python -m newstag.model.native
	touch $@

# Rebuild the shipped model (artifacts/model.joblib) and its card from ../shared/corpus.
model: $(VENV)/.installed
	$(BIN)/python -m newstag.training.build_shipped --shared $(SHARED)

bench: bytecode native
	$(BIN)/python benchmarks/quality.py --shared $(SHARED)
	$(BIN)/python benchmarks/speed.py --shared $(SHARED)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
