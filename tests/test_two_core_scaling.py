"""benchmarks/two_core_scaling.c builds with the command in its header and prints what it says
it prints (the figures of docs/DESIGN.md's "Two threads against one" come from it)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "benchmarks" / "two_core_scaling.c"

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


@pytest.fixture(scope="module")
def tool(tmp_path_factory):
    header = SOURCE.read_text().split("*/", 1)[0]
    command = re.search(r"gcc .*?-o /tmp/two_core_scaling", header, re.DOTALL).group(0)
    words = [w for w in command.replace("\\", " ").split() if w != "*"]  # comment margins
    binary = tmp_path_factory.mktemp("tool") / "two_core_scaling"
    words[words.index("-o") + 1] = str(binary)
    subprocess.run(words, cwd=ROOT, check=True, capture_output=True, timeout=300)
    return binary


def test_fma_prints_rates_and_their_ratio(tool):
    out = subprocess.run([tool, "fma", "0.05"], capture_output=True, text=True, check=True,
                         timeout=60).stdout
    rates = [float(v) for v in re.findall(r"thread\(s\): ([\d.]+) G", out)]
    ratio = float(re.search(r"2 threads vs 1: ([\d.]+)x", out).group(1))
    assert len(rates) == 2 and all(r > 0 for r in rates)
    assert ratio == pytest.approx(rates[1] / rates[0], abs=0.01)
    assert 0.2 < ratio < 2.5   # two threads can not do more than about twice one's work


def test_gemm_prints_each_split_against_one_thread(tool):
    out = subprocess.run([tool, "gemm", "12", "64", "16"], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    lines = out.strip().splitlines()
    assert [line.split("  ")[0].split(" ", 1)[1] for line in lines] == [
        "1 thread", "2, columns, C shared", "2, columns, own C", "2, columns, own B and C",
        "2, rows"]
    first = re.search(r"median\s+(\d+) us.*?: ([\d.]+)x \(medians\), ([\d.]+)x", lines[0])
    assert first.group(2) == first.group(3) == "1.00"


@pytest.mark.parametrize("args", [[], ["gemm", "3", "4", "5"], ["fma"], ["gemm", "x", "4", "4"]])
def test_bad_arguments_print_the_usage(tool, args):
    run = subprocess.run([tool, *args], check=False, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2 and "usage:" in run.stderr
