# newstag — set-up and everyday tasks. Each target installs what it needs into .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
SHARED ?= ../shared
SAMPLE ?= $(firstword $(wildcard $(SHARED)/seeds/*.txt) $(wildcard seeds/*.txt))

.PHONY: demo test model bench install bytecode clean

# Tag a sample article with the shipped model.
demo: bytecode
	$(BIN)/newstag predict $(SAMPLE) --format table

# Run the test suite.
test: bytecode
	$(BIN)/python -m pytest -q

install: bytecode

# Byte-compile newstag's own modules (only those changed since). An editable
# install leaves that to the first import, which never does it where
# PYTHONDONTWRITEBYTECODE is set (as on our CI machines): every start then
# compiled them from source, 0.1 s of each run, a quarter of a one-article one.
bytecode: $(VENV)/.installed
	$(BIN)/python -m compileall -q newstag model training

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,dask,bench]'
	# compile the numba kernels once now (about 30 s), not in the first long tagging run
	$(BIN)/python -c 'from newstag.model.kernels import warm; print(f"numba kernels ready ({warm():.0f} s)")'
	touch $@

# Rebuild the shipped model (artifacts/model.joblib) and its card from ../shared/corpus.
model: $(VENV)/.installed
	$(BIN)/python -m newstag.training.build_shipped --shared $(SHARED)

bench: bytecode
	$(BIN)/python benchmarks/quality.py --shared $(SHARED)
	$(BIN)/python benchmarks/speed.py --shared $(SHARED)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
