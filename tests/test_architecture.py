"""The house rules (README, "How it works"), checked on the source tree, not kept by habit.

``violations(root)`` reads every product module with ``ast`` (module-level and function-level
imports alike) and names each broken rule; the test fails on any. The last tests build small
trees with deliberate violations and show each rule catching its own.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("tasks", "flows", "reviewapp", "expectations", "dashboards")
STAGES = ("harvest", "extract", "generate", "refine", "curate", "evaluate")
SHARED = ("tasks.core", "tasks.io", "tasks.documents")

ONLY_IMPORTED_IN = {
    # module → where it may be imported (a package prefix or a module path)
    "openai": ("tasks.io.llm",),
    "duckdb": ("tasks.io.storage",),
    "s3fs": ("tasks.io.storage",),
    "sqlite3": ("tasks.io.storage",),
    "great_expectations": ("tasks.io.validate", "expectations"),
    "onnxruntime": ("tasks.io.embed",),
}
DASHBOARD_IMPORTS = ("tasks.core", "tasks.io.storage")
"""The analyst dashboard reads the catalog (read-only) and lake files, and knows the records."""
ENVIRON_ALLOWED = {
    # Documented exceptions: where the process environment is the interface itself.
    "tasks.core.settings": "settings come from STORMBORN_* variables (pydantic-settings) and STORMBORN_CONFIG",
    "tasks.io.validate": "switches Great Expectations' analytics off before its import",
    "flows.cli": "switches Prefect's and GX's analytics off before any import",
    "flows.runtime": "hands PREFECT_API_URL and Prefect's console log level to Dask worker processes and the local Prefect server",
    "flows.stack": "hands the stack's PREFECT_* and STORMBORN_* variables to the processes it starts",
}


@dataclass(frozen=True)
class Import:
    module: str
    names: tuple[str, ...]
    line: int


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(tree: ast.AST, module: str, is_package: bool) -> list[Import]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [Import(a.name, (), node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            out.append(Import(base, tuple(a.name for a in node.names), node.lineno))
    return out


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "tasks" and parts[1] in STAGES else None


def reads_environ(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os" \
                and node.attr in ("environ", "getenv", "putenv", "environb"):
            lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and node.module == "os" and \
                any(a.name in ("environ", "getenv") for a in node.names):
            lines.append(node.lineno)
    return lines


def private_uses(tree: ast.AST, imports: list[Import], module: str, known: set[str]) -> list[tuple[int, str]]:
    """``from x import _y`` and ``x._y`` where ``x`` is another of our modules."""
    found = []
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    for imp in imports:
        if imp.module != module and imp.module.split(".")[0] in PRODUCT:
            found += [(imp.line, f"{imp.module}.{n}") for n in imp.names if n.startswith("_") and not n.startswith("__")]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.attr.startswith("_") \
                and not node.attr.startswith("__"):
            target = aliases.get(node.value.id)
            if target in known and target != module:
                found.append((node.lineno, f"{target}.{node.attr}"))
    return found


def violations(root: Path) -> list[str]:
    files = [p for top in PRODUCT if (root / top).exists() for p in sorted((root / top).rglob("*.py"))]
    known = {module_name(root, p) for p in files}
    problems = []
    for path in files:
        module = module_name(root, path)
        where = f"{path.relative_to(root)}"
        tree = ast.parse(path.read_text(), filename=str(path))
        imports = imports_of(tree, module, path.name == "__init__.py")
        for imp in imports:
            targets = [imp.module] + [f"{imp.module}.{n}" for n in imp.names]
            for banned, allowed in ONLY_IMPORTED_IN.items():
                if any(within(t, banned) for t in targets[:1]) and not any(within(module, a) for a in allowed):
                    problems.append(f"{where}:{imp.line}: imports {banned} (only {', '.join(allowed)} may)")
            ours = [t for t in targets if t in known or imp.module in known]
            target = imp.module if imp.module in known else next((t for t in ours if t in known), imp.module)
            if not within(target, "tasks") and not within(target, "flows") and not within(target, "reviewapp"):
                continue
            if within(target, "flows") and not within(module, "flows"):
                problems.append(f"{where}:{imp.line}: imports {target} (nothing imports flows)")
            mine, theirs = stage_of(module), stage_of(target)
            if within(module, "tasks") and theirs and theirs != mine:
                problems.append(f"{where}:{imp.line}: imports {target} (a stage is imported by flows only)")
            if any(within(module, s) for s in SHARED) and within(target, "tasks") and \
                    not any(within(target, s) for s in SHARED):
                problems.append(f"{where}:{imp.line}: shared ground imports {target}")
            if within(module, "tasks.core") and within(target, "tasks") and not within(target, "tasks.core"):
                problems.append(f"{where}:{imp.line}: core imports {target} (core stands on nothing)")
            if within(module, "tasks.documents") and within(target, "tasks.io"):
                problems.append(f"{where}:{imp.line}: documents imports {target} (bytes → text needs no io)")
            if within(module, "reviewapp") and within(target, "tasks") and not any(
                    within(target, s) for s in ("tasks.curate", "tasks.documents", "tasks.core", "tasks.evaluate")):
                problems.append(f"{where}:{imp.line}: the review app imports {target} (curate, evaluate, documents, core only)")
            if within(module, "dashboards") and within(target, "tasks") and not any(
                    within(target, s) for s in DASHBOARD_IMPORTS):
                problems.append(f"{where}:{imp.line}: the dashboard imports {target} "
                                f"({', '.join(DASHBOARD_IMPORTS)} only: it imports what it shows)")
            if within(module, "dashboards") and within(target, "reviewapp"):
                problems.append(f"{where}:{imp.line}: the dashboard imports {target} (it mounts KaTeX's files, no code)")
        if module not in ENVIRON_ALLOWED:
            problems += [f"{where}:{line}: reads os.environ (settings come from tasks.core.settings)"
                         for line in reads_environ(tree)]
        problems += [f"{where}:{line}: uses the private {name} of another module"
                     for line, name in private_uses(tree, imports, module, known)]
    return problems


def test_the_product_keeps_the_house_rules():
    assert violations(ROOT) == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for folder in {p.parent for p in tmp_path.rglob("*.py")}:
        (folder / "__init__.py").touch()
    return tmp_path


@pytest.mark.parametrize("name,text,expected", [
    ("tasks/harvest/filters.py", "import openai\n", "imports openai (only tasks.io.llm may)"),
    ("tasks/curate/export.py", "import duckdb\n", "imports duckdb"),
    ("tasks/generate/steps.py", "def f():\n    import sqlite3\n", "imports sqlite3"),
    ("tasks/extract/steps.py", "from great_expectations import expectations\n", "imports great_expectations"),
    ("tasks/generate/steps.py", "from tasks.extract.steps import plan_extraction\n",
     "imports tasks.extract.steps (a stage is imported by flows only)"),
    ("tasks/curate/selection.py", "from tasks.harvest import steps\n", "a stage is imported by flows only"),
    ("tasks/io/runs.py", "from tasks.harvest.steps import run_scope\n", "shared ground imports tasks.harvest.steps"),
    ("tasks/core/records.py", "from tasks.io.storage import Lake\n", "core stands on nothing"),
    ("tasks/harvest/steps.py", "from flows.harvest import monthly_harvest\n", "nothing imports flows"),
    ("reviewapp/app.py", "from tasks.io.storage import Lake\n", "the review app imports tasks.io.storage"),
    ("dashboards/app.py", "from tasks.curate import review\n", "the dashboard imports tasks.curate"),
    ("dashboards/app.py", "from tasks.io.llm import gateway\n", "the dashboard imports tasks.io.llm"),
    ("dashboards/app.py", "from reviewapp.app import create_app\n", "the dashboard imports reviewapp"),
    ("dashboards/app.py", "import duckdb\n", "imports duckdb (only tasks.io.storage may)"),
    ("tasks/harvest/filters.py", "import os\nKEY = os.environ['X']\n", "reads os.environ"),
    ("tasks/harvest/filters.py", "import os\nKEY = os.getenv('X')\n", "reads os.environ"),
    ("tasks/generate/steps.py", "from tasks.io.validate import _context\n",
     "uses the private tasks.io.validate._context"),
    ("tasks/generate/steps.py", "from tasks.io import validate\nvalidate._context()\n",
     "uses the private tasks.io.validate._context"),
])
def test_a_deliberate_violation_is_caught(tmp_path, name, text, expected):
    clean = {"tasks/io/validate.py": "def _context():\n    pass\n", "tasks/io/storage.py": "class Lake: ...\n",
             "tasks/extract/steps.py": "def plan_extraction(): ...\n", "tasks/harvest/steps.py": "def run_scope(): ...\n",
             "flows/harvest.py": "def monthly_harvest(): ...\n"}
    root = _tree(tmp_path, clean)
    assert violations(root) == []
    _tree(tmp_path, {name: text})
    found = violations(root)
    assert any(expected in v and v.startswith(name) for v in found), found
