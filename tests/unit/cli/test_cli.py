"""The installed ``dango`` console script, run as a real process: validate and init."""

from __future__ import annotations

import ast
import importlib.util
import shutil
import textwrap
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.unit.helpers import REPO, run_dango

DEMO_SOURCES = ["customers", "products", "orders", "order_lines"]


def copy_demo(target: Path) -> Path:
    """The demo as a standalone project: Dango's .dango/sources.yml and the CSV files it names."""
    (target / ".dango").mkdir(parents=True)
    shutil.copy(REPO / ".dango" / "sources.yml", target / ".dango" / "sources.yml")
    shutil.copytree(REPO / "include" / "data", target / "include" / "data")
    return target


# --- validate --------------------------------------------------------------------------------


def test_validate_demo_like_project(tmp_path):
    project = copy_demo(tmp_path / "shop")

    proc = run_dango("validate", str(project))

    assert (proc.returncode, proc.stderr) == (0, "")
    lines = proc.stdout.splitlines()
    assert lines[0] == (f"{project / '.dango' / 'sources.yml'}: valid, 4 source(s) (4 enabled): "
                        "customers, products, orders, order_lines")
    # a Dango project whose csv sources replace their tables as in Dango (order_lines sets merge): no note
    assert lines[1:] == []


def test_validate_defaults_to_the_current_directory(tmp_path):
    project = copy_demo(tmp_path / "shop")

    proc = run_dango("validate", cwd=project)

    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.splitlines()[0] == (
        ".dango/sources.yml: valid, 4 source(s) (4 enabled): customers, products, orders, order_lines")


def test_validate_a_sources_file_path(tmp_path):
    sources_file = tmp_path / "elsewhere" / "my_sources.yml"
    sources_file.parent.mkdir()
    sources_file.write_text(textwrap.dedent("""\
        sources:
          - name: orders
            type: csv
            csv: {directory: data/orders}
          - name: old_orders
            type: csv
            enabled: false
            csv: {directory: data/old}
        """))

    proc = run_dango("validate", str(sources_file))

    assert (proc.returncode, proc.stderr) == (0, "")
    # the enabled source's directory does not exist yet: a warning, not an error; the disabled one is not checked
    assert proc.stdout == (f"{sources_file}: valid, 2 source(s) (1 enabled): orders, old_orders\n"
                           f"warning: source 'orders': directory data/orders does not exist "
                           f"({sources_file.parent / 'data/orders'}); its ingest finds no file until it does\n")
    (sources_file.parent / "data" / "orders").mkdir(parents=True)
    again = run_dango("validate", str(sources_file))
    assert again.stdout == f"{sources_file}: valid, 2 source(s) (1 enabled): orders, old_orders\n"


def test_validate_suggests_the_closest_key(tmp_path):
    sources_file = tmp_path / "sources.yml"
    sources_file.write_text("sources:\n  - name: orders\n    type: csv\n    primary_kye: id\n"
                            "    csv: {directory: data, file_patern: '*.csv'}\n")

    proc = run_dango("validate", str(tmp_path))

    assert (proc.returncode, proc.stdout) == (1, "")
    lines = proc.stderr.splitlines()
    assert lines[0] == "2 errors:"
    lines[1:] = sorted(lines[1:])
    assert lines[1].startswith(f"{sources_file}:4: sources[0].primary_kye: unknown key 'primary_kye' "
                               "(did you mean 'primary_key'?); allowed keys here: ")
    assert lines[2].startswith(f"{sources_file}:5: sources[0].csv.file_patern: unknown key 'file_patern' "
                               "(did you mean 'file_pattern'?); allowed keys here: ")


def test_validate_broken_file_prints_every_error_and_exits_1(tmp_path):
    sources_file = tmp_path / "sources.yml"
    sources_file.write_text(textwrap.dedent("""\
        sources:
          - name: Orders
            type: csv
            csv: {directory: data/orders}
          - name: refunds
            type: excel
            csv: {directory: data/refunds}
        """))

    proc = run_dango("validate", str(tmp_path))

    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.splitlines() == [
        "2 errors:",
        f"{sources_file}:2: sources[0].name: source name 'Orders' is invalid: use lower-case letters, digits and "
        "underscores, starting with a letter, at most 63 characters (for example 'shop_orders')",
        f"{sources_file}:6: sources[1].type: unknown source type 'excel'; supported types: csv, local_files, filesystem, rest_api, stripe, github, hubspot, sql_database, postgres, mysql, dlt_native",
    ]


def test_validate_single_error(tmp_path):
    sources_file = tmp_path / "sources.yml"
    sources_file.write_text("sources:\n  - name: orders\n    type: csv\n    csv: {directory: ../outside}\n")

    proc = run_dango("validate", str(sources_file))

    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (
        f"error: {sources_file}:4: sources[0].csv.directory: directory '../outside' resolves to "
        f"'{(tmp_path.parent / 'outside').resolve()}', outside the project directory ({tmp_path.resolve()}); "
        "move the data into the project or name its directory in [dango] allowed_data_roots "
        "(AIRFLOW__DANGO__ALLOWED_DATA_ROOTS)\n"
    )


def test_validate_missing_project(tmp_path):
    proc = run_dango("validate", str(tmp_path / "nope"))

    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"error: project path '{tmp_path / 'nope'}' does not exist\n"


def test_usage_error_exits_2():
    proc = run_dango("frobnicate")

    assert proc.returncode == 2
    assert "invalid choice: 'frobnicate'" in proc.stderr


# --- init ------------------------------------------------------------------------------------


def test_init_scaffolds_a_project(tmp_path):
    target = tmp_path / "my_project"

    proc = run_dango("init", str(target), "--no-pool")

    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.splitlines() == [
        f"initialised dango project in {target}",
        f"next: export AIRFLOW__DANGO__PROJECT_DIR={target} and put {target / 'dags'} in Airflow's DAGs folder",
    ]
    assert (target / "sources.yml").is_file()
    assert (target / "data").is_dir()
    for folder in ("models/staging", "models/intermediate", "models/marts", "seeds", "snapshots", "tests"):
        assert (target / "dbt" / folder).is_dir(), folder

    dbt_project = yaml.safe_load((target / "dbt" / "dbt_project.yml").read_text())
    assert (dbt_project["name"], dbt_project["profile"]) == ("my_project", "dango")
    assert set(dbt_project["models"]["my_project"]) == {"staging", "intermediate", "marts"}

    profiles = yaml.safe_load((target / "dbt" / "profiles.yml").read_text())
    dev = profiles["dango"]["outputs"]["dev"]
    assert profiles["dango"]["target"] == "dev"
    assert dev["type"] == "duckdb"
    assert dev["extensions"] == []
    assert dev["path"] == "{{ env_var('DANGO_WAREHOUSE_PATH', '../data/warehouse.duckdb') }}"

    # the scaffolded project validates
    check = run_dango("validate", str(target))
    assert (check.returncode, check.stdout) == (0, f"{target / 'sources.yml'}: valid, 0 source(s) (0 enabled): \n")


def test_init_dag_file_passes_airflow_safe_mode_and_calls_register(tmp_path):
    target = tmp_path / "proj"
    assert run_dango("init", str(target), "--no-pool").returncode == 0
    dag_file = target / "dags" / "dango_dags.py"
    text = dag_file.read_text()

    # Airflow's safe-mode filter (utils.file.might_contain_dag_via_default_heuristic) lower-cases the bytes
    # and skips files that lack "airflow" or both "dag" and "asset"
    assert "airflow" in text.lower() and "dag" in text.lower()
    tree = ast.parse(text)
    imports = [(n.module, [a.name for a in n.names]) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert imports == [("dango_provider.dag_builder", ["register"])]
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "register"]
    assert len(calls) == 1
    (call,) = calls
    assert ast.unparse(call.args[0]) == "globals()"
    assert {k.arg: ast.literal_eval(k.value) for k in call.keywords} == {"project_dir": str(target)}


def airflow_safe_mode_heuristic():
    """Airflow's own safe-mode filter, compiled from the installed source (importing airflow takes ~7 s)."""
    spec = importlib.util.find_spec("airflow")
    source_file = Path(spec.origin).parent / "utils" / "file.py"
    tree = ast.parse(source_file.read_text())
    (function,) = [n for n in tree.body if isinstance(n, ast.FunctionDef)
                   and n.name == "might_contain_dag_via_default_heuristic"]
    namespace = {"zipfile": zipfile, "__name__": "airflow_utils_file_excerpt"}
    exec(compile(ast.Module(body=[function], type_ignores=[]), str(source_file), "exec"), namespace)
    return namespace[function.name]


def test_init_dag_file_is_accepted_by_airflows_own_heuristic(tmp_path):
    target = tmp_path / "proj"
    assert run_dango("init", str(target), "--no-pool").returncode == 0
    plain = tmp_path / "plain.py"
    plain.write_text("from dango_provider.scaffold import templates\n")  # control: no 'airflow' in it
    check = airflow_safe_mode_heuristic()

    assert check(file_path=str(target / "dags" / "dango_dags.py")) is True
    assert check(file_path=str(plain)) is False


def test_init_demo_copies_data_and_models_and_validates(tmp_path):
    target = tmp_path / "demo"

    proc = run_dango("init", str(target), "--demo", "--no-pool")

    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.splitlines()[0] == f"initialised dango project in {target} with the demo data"
    assert (target / "sources.yml").read_text() == (REPO / ".dango" / "sources.yml").read_text()
    for source in DEMO_SOURCES:
        expected = sorted(p.name for p in (REPO / "include" / "data" / source).glob("*.csv"))
        assert expected, source
        assert sorted(p.name for p in (target / "include" / "data" / source).glob("*.csv")) == expected
        for name in expected:
            relative = Path("include", "data", source, name)
            assert (target / relative).read_bytes() == (REPO / relative).read_bytes()
    for model in (REPO / "dbt" / "models").rglob("*.sql"):
        relative = model.relative_to(REPO)
        if "staging" not in relative.parts:
            assert (target / relative).read_text() == model.read_text(), relative
    assert list((target / "dbt" / "models").rglob("*.sql"))
    assert not (target / "dbt" / "target").exists() and not (target / "dbt" / "logs").exists()
    assert not (target / "dbt" / "models" / "staging").exists()
    assert (target / "dags" / "dango_dags.py").is_file()

    check = run_dango("validate", str(target))
    assert (check.returncode, check.stderr) == (0, "")
    assert check.stdout == (
        f"{target / 'sources.yml'}: valid, 4 source(s) (4 enabled): customers, products, orders, order_lines\n"
    )


def test_init_refuses_to_overwrite_sources_yml(tmp_path):
    target = tmp_path / "existing"
    target.mkdir()
    (target / "sources.yml").write_text("# mine\nsources: []\n")

    proc = run_dango("init", str(target), "--no-pool")

    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"error: '{target}' already has a sources.yml; not overwriting it\n"
    assert (target / "sources.yml").read_text() == "# mine\nsources: []\n"
    assert sorted(p.name for p in target.iterdir()) == ["sources.yml"]


@pytest.mark.parametrize("directory, name", [("Shop Analytics", "shop_analytics"), ("2024-reports", "p_2024_reports")])
def test_init_derives_a_valid_dbt_project_name(tmp_path, directory, name):
    target = tmp_path / directory

    assert run_dango("init", str(target), "--no-pool").returncode == 0

    dbt_project = yaml.safe_load((target / "dbt" / "dbt_project.yml").read_text())
    assert dbt_project["name"] == name
    assert list(dbt_project["models"]) == [name]
