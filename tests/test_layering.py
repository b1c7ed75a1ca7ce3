"""The core package imports no door: `zkpot/` never imports the CLI, the demo, the workers or
the API, at module level or inside a function, by statement or by `__import__`/`importlib`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from zkpot.config import PROJECT_ROOT

DOORS = ("cli", "demo", "workers", "api", "zkpot_flower")
CORE = PROJECT_ROOT / "zkpot"


def imported_names(path: Path) -> list[tuple[int, str]]:
    """Every module name `path` imports, with its line: statements and literal dynamic imports."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("__import__", "import_module") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return sorted(found)


def is_door(module: str) -> bool:
    return module.split(".")[0] in DOORS


def test_the_core_imports_no_door():
    offences = [f"{path.relative_to(PROJECT_ROOT)}:{line} imports {name}"
                for path in sorted(CORE.rglob("*.py"))
                for line, name in imported_names(path) if is_door(name)]
    assert offences == []


def test_the_check_sees_every_way_of_importing(tmp_path):
    # the check itself: each form of import of a door is reported
    sample = tmp_path / "sample.py"
    sample.write_text("import workers.app\nfrom api import main\n"
                      "def f():\n    from cli.job import app\n    return __import__('demo.run')\n"
                      "import importlib\nimportlib.import_module('workers.queues')\n"
                      "from zkpot import chain\nfrom . import sibling\n")
    names = [name for _, name in imported_names(sample) if is_door(name)]
    assert names == ["workers.app", "api", "cli.job", "demo.run", "workers.queues"]


def test_importing_every_core_module_loads_no_door():
    # what the parse cannot see (an import built at run time) shows up in sys.modules
    code = ("import importlib, pkgutil, sys, zkpot\n"
            "for m in pkgutil.walk_packages(zkpot.__path__, 'zkpot.'):\n"
            "    importlib.import_module(m.name)\n"
            f"print(sorted(n for n in sys.modules if n.split('.')[0] in {DOORS!r}))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# what a node's prove worker imports to prove (workers.group: it never trains)
PROVING = ("workers.app", "workers.tasks.proofs", "workers.tasks.watch", "zkpot.node.proving",
           "zkpot.zk", "zkpot.zk.prove", "zkpot.zk.circuit", "zkpot.zk.graph", "zkpot.certified",
           "zkpot.pot.state", "zkpot.testset", "zkpot.manifest")


def test_the_proving_path_loads_no_torch():
    # torch costs a process ~350 MB: the one that proves never loads it (docs/zk.md)
    code = ("import importlib, sys\n"
            f"for m in {PROVING!r}:\n"
            "    importlib.import_module(m)\n"
            "print(sorted(n for n in sys.modules if n.split('.')[0] == 'torch')[:3])\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
