"""The dependency rules of ARCHITECTURE.md, checked on the source with ``ast`` (every import, at any level).

- ``config`` and ``core`` import no Airflow, Cosmos or dlt, directly or through other package modules;
- ``triggers`` import only ``core`` from the package;
- nothing imports ``dango_provider.dag_builder`` but ``dango_provider.cli`` (and ``dag_builder`` itself);
- ``plugins`` never import ``dag_builder``, directly or through other package modules;
- exception classes live in ``exceptions.py`` (a short, reviewed list of module-local signals excepted).

Each checker is also run on a small package with known violations, so a checker that finds nothing
cannot pass by accident.
"""

from __future__ import annotations

import ast
import builtins
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.unit.helpers import PACKAGE, REPO

FORBIDDEN_IN_PURE = ("airflow", "cosmos", "dlt")
PURE_LAYERS = ("config", "core", "metabase")

# Exception classes defined outside exceptions.py on purpose. Neither reaches a user: each is raised and
# caught inside the provider and turned into a DangoError or an Airflow skip.
LOCAL_EXCEPTIONS = {
    # pydantic only reports ValueErrors raised inside validators; the loader turns it into DangoConfigError
    ("config.model", "DuplicateSourceName"): "config.loader",
    # raised by the runner, caught by operators.ingest and turned into AirflowSkipException
    ("sources.runner", "NothingToLoad"): "operators.ingest",
}


@dataclass
class Module:
    name: str  # dotted, e.g. dango_provider.core.lock
    path: Path
    is_package: bool
    tree: ast.Module
    imports: list[tuple[str, int]] = field(default_factory=list)  # (module imported, line)


class PackageIndex:
    """Every module of a package and what it imports (resolved to dotted module names)."""

    def __init__(self, package_dir: Path):
        self.root = package_dir.name
        self.base = package_dir.parent
        self.modules: dict[str, Module] = {}
        for path in sorted(package_dir.rglob("*.py")):
            parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            name = ".".join(parts)
            self.modules[name] = Module(name, path, is_package, ast.parse(path.read_text(), str(path)))
        for module in self.modules.values():
            module.imports = list(self._imports(module))

    def _imports(self, module: Module):
        package = module.name if module.is_package else module.name.rpartition(".")[0]
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield alias.name, node.lineno
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base_parts = package.split(".")
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                    base = ".".join(base_parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    yield (candidate if candidate in self.modules else base), node.lineno
            elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                # importlib.import_module("x") and __import__("x")
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                    yield node.args[0].value, node.lineno

    def where(self, module: Module, line: int) -> str:
        return f"{module.path.relative_to(self.base).as_posix()}:{line}"

    def internal(self, imported: str) -> str | None:
        """The package module an import loads (its longest known prefix), or None for third-party."""
        parts = imported.split(".")
        if parts[0] != self.root:
            return None
        while parts:
            name = ".".join(parts)
            if name in self.modules:
                return name
            parts.pop()
        return None

    def in_layer(self, layer: str) -> list[Module]:
        prefix = f"{self.root}.{layer}"
        return [m for n, m in self.modules.items() if n == prefix or n.startswith(prefix + ".")]

    def closure(self, start: str) -> set[str]:
        """Package modules that importing ``start`` may load: its imports, theirs, and their parent packages."""
        seen: set[str] = set()
        todo = [start]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            parts = name.split(".")
            todo += [".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in self.modules]
            for imported, _ in self.modules[name].imports:
                target = self.internal(imported)
                if target:
                    todo.append(target)
        return seen


def pure_layer_violations(index: PackageIndex) -> list[str]:
    """config/core (and every package module they load) must not import airflow, cosmos or dlt."""
    out = []
    for layer in PURE_LAYERS:
        for module in index.in_layer(layer):
            for name in sorted(index.closure(module.name)):
                loaded = index.modules[name]
                for imported, line in loaded.imports:
                    if imported.split(".")[0] in FORBIDDEN_IN_PURE:
                        via = "" if name == module.name else f" (loaded by {module.name})"
                        out.append(f"{index.where(loaded, line)}: {name} imports {imported}{via}")
    return sorted(set(out))


def triggers_violations(index: PackageIndex) -> list[str]:
    allowed = (f"{index.root}.core", f"{index.root}.triggers")
    out = []
    for module in index.in_layer("triggers"):
        for imported, line in module.imports:
            target = index.internal(imported) or (imported if imported.split(".")[0] == index.root else None)
            if target and not any(target == a or target.startswith(a + ".") for a in allowed):
                out.append(f"{index.where(module, line)}: {module.name} imports {imported}")
    return out


#: what operators and sensors may import from the package (ARCHITECTURE.md: hooks, core, sources, triggers,
#: and the layers below them); never the DAG builder, the plugin, the CLI or the Cosmos wiring
TASK_LAYERS = ("operators", "sensors")
TASK_ALLOWED = ("hooks", "core", "sources", "triggers", "config", "metabase", "exceptions", "settings", "offline",
                "operators", "sensors")


def task_layer_violations(index: PackageIndex) -> list[str]:
    allowed = tuple(f"{index.root}.{layer}" for layer in TASK_ALLOWED)
    out = []
    for layer in TASK_LAYERS:
        for module in index.in_layer(layer):
            for imported, line in module.imports:
                target = index.internal(imported) or (imported if imported.split(".")[0] == index.root else None)
                if target and target != index.root and not any(target == a or target.startswith(a + ".")
                                                                for a in allowed):
                    out.append(f"{index.where(module, line)}: {module.name} imports {imported}")
    return out


def dag_builder_importers(index: PackageIndex) -> list[str]:
    dag_builder = f"{index.root}.dag_builder"
    allowed = (dag_builder, f"{index.root}.cli")
    out = []
    for module in index.modules.values():
        if any(module.name == a or module.name.startswith(a + ".") for a in allowed):
            continue
        for imported, line in module.imports:
            if imported == dag_builder or imported.startswith(dag_builder + "."):
                out.append(f"{index.where(module, line)}: {module.name} imports {imported}")
    return out


def plugins_reaching_dag_builder(index: PackageIndex) -> list[str]:
    dag_builder = f"{index.root}.dag_builder"
    out = []
    for module in index.in_layer("plugins"):
        reached = sorted(n for n in index.closure(module.name) if n == dag_builder or n.startswith(dag_builder + "."))
        if reached:
            out.append(f"{module.name} loads {', '.join(reached)}")
    return out


def _base_name(base: ast.expr) -> str:
    if isinstance(base, ast.Attribute):
        return base.attr
    return getattr(base, "id", "")


def exception_classes(index: PackageIndex) -> dict[tuple[str, str], list[str]]:
    """(module without package prefix, class) -> base names, for every class that is an exception."""
    classes = {}
    for module in index.modules.values():
        short = module.name.partition(".")[2]
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ClassDef):
                classes[(short, node.name)] = [_base_name(b) for b in node.bases]
    known = {name for name in dir(builtins) if isinstance(getattr(builtins, name), type)
             and issubclass(getattr(builtins, name), BaseException)}
    found: dict[tuple[str, str], list[str]] = {}
    changed = True
    while changed:
        changed = False
        for key, bases in classes.items():
            if key in found:
                continue
            if any(b in known or b.endswith(("Error", "Exception")) for b in bases):
                found[key] = bases
                known.add(key[1])
                changed = True
    return found


def misplaced_exceptions(index: PackageIndex, allowed: dict[tuple[str, str], str]) -> list[str]:
    return sorted(f"{module}.{name}" for (module, name) in exception_classes(index)
                  if module != "exceptions" and (module, name) not in allowed)


# --- the real package ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def index() -> PackageIndex:
    return PackageIndex(PACKAGE)


def test_the_index_sees_the_package(index):
    assert {"dango_provider.config.loader", "dango_provider.core.lock", "dango_provider.cli.main",
            "dango_provider.dag_builder.build", "dango_provider.plugins.dango_plugin"} <= set(index.modules)
    # function-level imports count: the CLI imports the loader inside _validate
    assert "dango_provider.config.loader" in [i for i, _ in index.modules["dango_provider.cli.main"].imports]
    # text that only looks like an import (the DAG file template) does not
    assert not [i for i, _ in index.modules["dango_provider.scaffold.templates"].imports if "dag_builder" in i]
    assert index.in_layer("config") and index.in_layer("core")


def test_config_and_core_import_no_airflow_cosmos_or_dlt(index):
    assert pure_layer_violations(index) == []


def test_config_and_core_load_no_airflow_cosmos_or_dlt_at_runtime():
    modules = sorted(m.name for layer in PURE_LAYERS for m in PackageIndex(PACKAGE).in_layer(layer))
    code = textwrap.dedent(f"""\
        import importlib, sys
        for name in {modules!r}:
            importlib.import_module(name)
        print(sorted(m for m in sys.modules if m.split(".")[0] in {FORBIDDEN_IN_PURE!r}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)

    assert (proc.returncode, proc.stdout) == (0, "[]\n"), proc.stderr


def test_triggers_import_only_core(index):
    assert triggers_violations(index) == []


def test_operators_and_sensors_import_only_the_layers_below_them(index):
    assert task_layer_violations(index) == []


def test_only_cli_imports_dag_builder(index):
    assert dag_builder_importers(index) == []


def test_plugins_never_import_dag_builder(index):
    assert plugins_reaching_dag_builder(index) == []


def test_exception_classes_live_in_exceptions_py(index):
    assert misplaced_exceptions(index, LOCAL_EXCEPTIONS) == []


def test_local_exceptions_stay_local(index):
    """The listed exceptions exist, are no DangoError, and only their one consumer imports them."""
    found = exception_classes(index)
    for (module, name), consumer in LOCAL_EXCEPTIONS.items():
        assert (module, name) in found, f"{module}.{name} is gone: remove it from LOCAL_EXCEPTIONS"
        assert not {"DangoError", "DangoConfigError"} & set(found[(module, name)])
        importers = set()
        for other in index.modules.values():
            for node in ast.walk(other.tree):
                if isinstance(node, ast.ImportFrom) and any(a.name == name for a in node.names):
                    importers.add(other.name.partition(".")[2])
        assert importers <= {consumer}, f"{module}.{name} is imported by {sorted(importers)}"


def test_every_exception_in_exceptions_py_is_a_dango_error():
    import dango_provider.exceptions as exceptions

    classes = [v for v in vars(exceptions).values() if isinstance(v, type) and issubclass(v, BaseException)]
    assert len(classes) >= 10
    assert all(issubclass(c, exceptions.DangoError) for c in classes), classes
    assert issubclass(exceptions.DangoConfigError, ValueError)


# --- the checkers find violations --------------------------------------------------------------


def make_package(root: Path, files: dict[str, str]) -> Path:
    package = root / "dango_provider"
    for relative, text in files.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    for directory in [package, *[p for p in package.rglob("*") if p.is_dir()]]:
        (directory / "__init__.py").touch()
    return package


def test_checkers_report_violations(tmp_path):
    package = make_package(tmp_path, {
        "exceptions.py": "class DangoError(Exception):\n    pass\n",
        "settings.py": "def read():\n    from airflow.configuration import conf\n    return conf\n",
        "config/model.py": "import dlt.common\n",
        "config/loader.py": "from dango_provider import settings\n",
        "core/lock.py": "def f():\n    from cosmos import DbtTaskGroup\n",
        "core/naming.py": "import importlib\nmod = importlib.import_module('airflow.sdk')\n",
        "core/ok.py": "from . import naming\nimport json\n",
        "triggers/freshness.py": (
            "from ..core import naming\nfrom dango_provider.hooks import duckdb\n"
            "from airflow.triggers.base import BaseTrigger\n"
        ),
        "hooks/duckdb.py": "import duckdb\n",
        "operators/ingest.py": "from dango_provider.dag_builder import build\n",
        "sensors/gate.py": "from dango_provider.hooks import duckdb\nfrom dango_provider.plugins import views\n",
        "cli/main.py": "from dango_provider.dag_builder import build\n",
        "dag_builder/build.py": "from dango_provider.dag_builder import helpers\n",
        "dag_builder/helpers.py": "",
        "plugins/plugin.py": "from dango_provider.plugins import views\n",
        "plugins/views.py": "def page():\n    from dango_provider.dag_builder.build import x\n",
        "sources/runner.py": "class Skip(Exception):\n    pass\n\nclass Worse(Skip):\n    pass\n",
        "operators/errors.py": (
            "from airflow.exceptions import AirflowException\n\nclass OpFailed(AirflowException):\n    pass\n"
        ),
    })
    index = PackageIndex(package)

    assert pure_layer_violations(index) == [
        "dango_provider/config/model.py:1: dango_provider.config.model imports dlt.common",
        "dango_provider/core/lock.py:2: dango_provider.core.lock imports cosmos",
        "dango_provider/core/naming.py:2: dango_provider.core.naming imports airflow.sdk",
        "dango_provider/core/naming.py:2: dango_provider.core.naming imports airflow.sdk "
        "(loaded by dango_provider.core.ok)",
        "dango_provider/settings.py:2: dango_provider.settings imports airflow.configuration "
        "(loaded by dango_provider.config.loader)",
    ]
    assert triggers_violations(index) == [
        "dango_provider/triggers/freshness.py:2: dango_provider.triggers.freshness imports dango_provider.hooks.duckdb"
    ]
    assert task_layer_violations(index) == [
        "dango_provider/operators/ingest.py:1: dango_provider.operators.ingest imports dango_provider.dag_builder.build",
        "dango_provider/sensors/gate.py:2: dango_provider.sensors.gate imports dango_provider.plugins.views",
    ]
    assert task_layer_violations(index) == [
        "dango_provider/operators/ingest.py:1: dango_provider.operators.ingest imports dango_provider.dag_builder.build",
        "dango_provider/sensors/gate.py:2: dango_provider.sensors.gate imports dango_provider.plugins.views",
    ]
    assert dag_builder_importers(index) == [
        "dango_provider/operators/ingest.py:1: dango_provider.operators.ingest imports "
        "dango_provider.dag_builder.build",
        "dango_provider/plugins/views.py:2: dango_provider.plugins.views imports dango_provider.dag_builder.build",
    ]
    assert plugins_reaching_dag_builder(index) == [
        "dango_provider.plugins.plugin loads dango_provider.dag_builder, dango_provider.dag_builder.build, "
        "dango_provider.dag_builder.helpers",
        "dango_provider.plugins.views loads dango_provider.dag_builder, dango_provider.dag_builder.build, "
        "dango_provider.dag_builder.helpers",
    ]
    assert misplaced_exceptions(index, {}) == [
        "operators.errors.OpFailed", "sources.runner.Skip", "sources.runner.Worse"
    ]
    assert misplaced_exceptions(index, {("sources.runner", "Skip"): "x", ("sources.runner", "Worse"): "x"}) == [
        "operators.errors.OpFailed"
    ]
