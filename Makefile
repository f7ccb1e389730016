# Two entry points, each setting itself up from nothing:
#   make demo   - install, then age, denoise and colour the sample photos into out/demo/
#   make test   - install, then lint and run the test suite
#
# torch==2.13.0 is pinned at install time only: on this project's machines pip
# finds its CPU wheel on local disk; elsewhere pip takes the same release from
# PyPI. The package itself just needs torch>=2.2, so other installs stay free.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed
# Extras installed with the package; CI adds ray so the Ray engine's tests run (.ci/run).
EXTRAS ?= test,dev,plot

.PHONY: demo test install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)" -e ".[$(EXTRAS)]"
	touch $(STAMP)

demo: $(STAMP)
	rm -rf out/demo && mkdir -p out/demo
	$(BIN)/oldphoto age samples/photos -r --seed 7 --to png -o out/demo/aged/ -q
	$(BIN)/oldphoto detect out/demo/aged -r -q \
	  | $(BIN)/oldphoto denoise-lr -q -o out/demo/denoised/
	$(BIN)/oldphoto colorize-resnet out/demo/denoised -r -q -o out/demo/restored/
	$(BIN)/oldphoto compare out/demo/aged out/demo/denoised out/demo/restored \
	  -o out/demo/sheet.png
	@echo "out/demo/: aged/ (grey, 10% salt-and-pepper noise, lossless PNG), denoised/ (noise"
	@echo "found and removed), restored/ (coloured), sheet.png (the three side by side)"

test: $(STAMP)
	$(BIN)/ruff check oldphoto tests plugins benchmarks
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) out
