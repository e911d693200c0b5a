"""The README's Quick start and CI run the same test command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _quick_start_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_quick_start_has_exactly_two_commands():
    assert len(_quick_start_commands()) == 2


def test_ci_runs_the_readme_test_command():
    test_command = _quick_start_commands()[1]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def _table_rows(text, after):
    """The Markdown table rows (lines starting with "|") of the first table after `after`."""
    section = text.split(after, 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            break
    return rows


def test_readme_shows_the_benchmark_report_tables_as_measured():
    """The README's benchmark tables are RESULTS.md's (the report's), not retyped numbers."""
    readme = (ROOT / "README.md").read_text()
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    for heading in ("| workload |", "| target |"):
        rows = _table_rows(results, "\n" + heading)
        assert rows and _table_rows(readme, "\n" + heading) == rows
