"""The README stays true: two Quick start commands; its Python examples run."""
import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_quick_start_has_exactly_two_commands():
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands = [line for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert commands == ["python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/ifpp-econ psa",
                        "python3 -m venv .venv && .venv/bin/pip install '.[test]' && .venv/bin/pytest -q -rs"]


def test_readme_refers_only_to_files_in_the_repository():
    root = Path(__file__).resolve().parents[1]
    for target in re.findall(r"\]\(([^)#:]+)\)", README):
        assert (root / target).exists(), target
    assert "shared/docs" not in README


def test_ci_runs_the_readme_test_command():
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "Quick start" in ci and "README.md" in ci


def test_engine_example_runs():
    code = re.findall(r"```python\n(.*?)```", README, re.S)[0]
    namespace = {}
    exec(code, namespace)
    result = namespace["result"]
    assert abs(result.trace.sum(-1) - 1).max() < 1e-12
    assert result.total("cost", horizon=60) < result.total("cost")
