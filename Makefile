# Thin shortcuts; each target is one command you can also run by hand.
.PHONY: dev test bench report lint clean

dev:        ## build the extensions in place with the test and lint extras
	pip install -e ".[test,lint]"

test:       ## the test suite (the README's test command)
	pytest

bench:      ## benchmarks, timed; OpenBLAS's machine overrides unset for this run only
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m pytest benchmarks

report:     ## the full benchmark report: every peer, writes benchmarks/RESULTS.md
	fastnn bench

lint:       ## ruff and cython-lint from the lint extra (`make dev`, or pip install -e ".[lint]")
	ruff check fastnn tests benchmarks setup.py
	cython-lint fastnn/_kernels

clean:
	rm -rf build fastnn/_kernels/*.c fastnn/_kernels/*.so
