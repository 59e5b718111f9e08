"""The shape the project keeps: thin stage adapters over an installed library (issue 18)."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = sorted((ROOT / "stages").glob("*.py"))
CODE = sorted([*(ROOT / "galaxy_xai").rglob("*.py"), *STAGES, *(ROOT / "tests").glob("*.py"), *(ROOT / "bench").glob("*.py")])
CODE = [p for p in CODE if p.name != Path(__file__).name]


@pytest.mark.parametrize("script", STAGES, ids=lambda p: p.name)
def test_a_stage_is_a_thin_adapter(script):
    lines = script.read_text().splitlines()
    assert len(lines) <= 60, f"{script.name} has {len(lines)} lines: move its study logic into galaxy_xai"
    assert "runtime.run(main)" in script.read_text(), f"{script.name} does not end with runtime.run(main)"


def test_no_stage_command_sets_pythonpath():
    assert "PYTHONPATH" not in (ROOT / "dvc.yaml").read_text()


@pytest.mark.parametrize("path", CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_import_path_edits_nor_literal_output_paths(path):
    text = path.read_text()
    assert "sys.path" not in text, f"{path.name} edits sys.path: the package is installed"
    if path.parent.name != "tests" and path.name != "layout.py":
        assert not re.search(r"[\"']out/", text), f"{path.name} spells an out/ path: ask galaxy_xai.layout"


@pytest.mark.parametrize("path", sorted((ROOT / "tests").glob("*.py")), ids=lambda p: p.name)
def test_tests_import_the_library_not_the_stages(path):
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        assert not any(n == "stages" or n.startswith("stages.") for n in names), f"{path.name} imports a stage"


@pytest.mark.parametrize("path", sorted((ROOT / "galaxy_xai").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_importing_the_library_does_no_work(path):
    text = path.read_text()
    assert "basicConfig" not in text or path.name == "runtime.py", f"{path.name} configures logging"
    assert "matplotlib.use(" not in text or "def start" in text, f"{path.name} sets the backend at import"
