"""Every stage in dvc.yaml lists the library modules its script imports, directly or through other
modules, so that DVC reruns a stage whenever code it runs has changed."""
import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def imported_modules(path: str) -> set[str]:
    """Repository paths of the galaxy_xai modules imported anywhere in `path` (function bodies too)."""
    names = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("galaxy_xai"):
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.startswith("galaxy_xai")}
    return {f"{name.replace('.', '/')}.py" for name in names if (ROOT / f"{name.replace('.', '/')}.py").is_file()}


def module_closure(script: str) -> set[str]:
    seen, todo = set(), [script]
    while todo:
        for module in imported_modules(todo.pop()) - seen:
            seen.add(module)
            todo.append(module)
    return seen


def stage_script(stage: dict) -> str:
    return re.search(r"stages/\S+\.py", stage.get("do", stage)["cmd"]).group(0)


def test_the_import_walk_follows_modules_through_other_modules():
    # stages/figures.py reaches galaxy_xai/data/lines.py only through the plotting modules
    assert "galaxy_xai/data/lines.py" not in imported_modules("stages/figures.py")
    assert "galaxy_xai/data/lines.py" in module_closure("stages/figures.py")


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_cover_the_code_it_runs(name):
    stage = STAGES[name].get("do", STAGES[name])
    script = stage_script(STAGES[name])
    deps = set(stage.get("deps", []))
    missing = sorted(({script} | module_closure(script)) - deps)
    assert not missing, f"dvc.yaml stage {name!r} runs {missing} but does not list them in deps"


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_list_no_code_it_no_longer_runs(name):
    """A stale module in deps reruns the stage for nothing (e.g. a training stage after a heatmap edit)."""
    stage = STAGES[name].get("do", STAGES[name])
    script = stage_script(STAGES[name])
    code = {d for d in stage.get("deps", []) if str(d).endswith(".py")}
    # the package's __init__ (it picks TensorFlow's kernels) and the config rules engine run in every stage
    runs = {script} | module_closure(script) | {"galaxy_xai/__init__.py", "galaxy_xai/config/__init__.py"}
    stale = sorted(code - runs)
    assert not stale, f"dvc.yaml stage {name!r} lists {stale} in deps but does not import them"
