"""`import fastnn` in fresh interpreters, timed as `fastnn bench` times it
(fastnn._bench.report.import_seconds: perf_counter around the import statement):

    python benchmarks/import_time.py [RUNS] [--pyc]

prints the minimum and the median over RUNS interpreters started in the current directory
(so run it from the checkout to measure). Without --pyc the interpreters inherit this
environment: where PYTHONDONTWRITEBYTECODE is set and the checkout has no __pycache__ (an
editable install on this project's machines), each import compiles fastnn's source. --pyc
keeps compiled files in a cache outside the checkout (PYTHONPYCACHEPREFIX), as an installed
package has them. To compare two builds, run it in each checkout in turn, several times.
"""

import os
import statistics
import subprocess
import sys
import tempfile

CODE = "import time; t = time.perf_counter(); import fastnn; print(time.perf_counter() - t)"


def main(runs: int = 20, pyc: bool = False) -> None:
    env = dict(os.environ)
    if pyc:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = os.path.join(
            tempfile.gettempdir(), "fastnn-import-time-pyc", os.getcwd().strip(os.sep))
        subprocess.run([sys.executable, "-c", "import fastnn"], env=env, check=True)
    times = [float(subprocess.run([sys.executable, "-c", CODE], env=env, check=True,
                                  capture_output=True, text=True).stdout)
             for _ in range(runs)]
    print(f"{os.getcwd()} {'pyc' if pyc else 'as this environment'}: "
          f"min {min(times):.3f} s, median {statistics.median(times):.3f} s ({runs} runs)")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--pyc"]
    main(*map(int, args), pyc="--pyc" in sys.argv[1:])
