"""Benchmark: DAG parse time of a project with 20 csv sources and a dbt project of 50 models.

Run from the repository root:  python bench/dag_parse.py [--repeat N] [--profile] [--cold-imports]

* scaffolds a project (``init_project``): 20 csv sources, staging models for them and 50 models
  (30 intermediate + 20 marts, ``select ... from ref(...)`` chains, unique/not_null tests on every
  model and a relationships test on some), then runs ``dbt parse`` once for a real
  ``target/manifest.json`` (setup, timed but not the measurement);
* imports airflow, cosmos and dango_provider first (import time printed, not included), then times
  ``build_dags(load_project(dir))`` ``--repeat`` times (min/median; load_project and build_dags
  also separately);
* as the Airflow-side figure, times ``DagBag(dag_folder=<project>/dags)`` (the DAG file calls
  ``register``, i.e. the same build plus Airflow's own file handling and DAG checks), in this warm
  process and once in a fresh ``python`` process (wall, includes interpreter start and imports);
* prints how many tasks the transform DAG rendered.
``--profile`` prints a cProfile top list of one ``build_dags(load_project(dir))``.
Prints figures; never asserts on time.
"""

from __future__ import annotations

import argparse
import inspect
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _benchutil as bu  # noqa: E402

TARGET_BUILD_S = 0.5
N_SOURCES = 20
N_INTERMEDIATE = 30
N_MARTS = 20

FRESH_DAGBAG = """
import sys, time
t0 = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
t1 = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
t2 = time.perf_counter()
print(f"dags {len(bag.dags)} errors {len(bag.import_errors)}; import DagBag {t1 - t0:.2f}s, DagBag() {t2 - t1:.2f}s")
"""


# ------------------------------------------------------------------------------------------ project
def source_names() -> list[str]:
    return [f"src_{i:02d}" for i in range(1, N_SOURCES + 1)]


def write_project(root: Path) -> None:
    sources = source_names()
    bu.make_project(root, bu.sources_file([
        bu.csv_source_yml(name, f"include/{name}", primary_key="id", schedule="@daily" if i % 2 else None)
        for i, name in enumerate(sources)
    ]))
    for name in sources:
        data = root / "include" / name
        data.mkdir(parents=True)
        (data / f"{name}.csv").write_text("id,value\n1,a\n2,b\n", encoding="utf-8")

    models = root / "dbt" / "models"
    # staging: what GenerateStagingOperator writes, reduced to the part dbt parse needs
    for name in sources:
        folder = models / "staging" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"_{name}__sources.yml").write_text(
            f"version: 2\nsources:\n  - name: raw_{name}\n    schema: raw_{name}\n    tables:\n      - name: {name}\n",
            encoding="utf-8")
        (folder / f"stg_{name}__{name}.sql").write_text(
            f"select id, value from {{{{ source('raw_{name}', '{name}') }}}}\n", encoding="utf-8")
        (folder / f"stg_{name}__{name}.yml").write_text(
            f"version: 2\nmodels:\n  - name: stg_{name}__{name}\n    columns:\n      - name: id\n"
            "        data_tests: [unique, not_null]\n", encoding="utf-8")

    def model_yml(name: str, parent: str | None) -> str:
        tests = "[unique, not_null]"
        text = f"  - name: {name}\n    columns:\n      - name: id\n        data_tests: {tests}\n"
        if parent:  # a test on two models: Cosmos detaches it (should_detach_multiple_parents_tests)
            text += (f"      - name: parent_id\n        data_tests:\n          - relationships:\n"
                     f"              arguments:\n                to: ref('{parent}')\n                field: id\n")
        return text

    # intermediate: int_01..int_20 read one staging model each (with `select 1 as id` style columns);
    # int_21..int_30 join two earlier intermediate models (chains)
    ints, yml = [], "version: 2\nmodels:\n"
    for i in range(1, N_INTERMEDIATE + 1):
        name = f"int_{i:02d}"
        if i <= N_SOURCES:
            src = sources[i - 1]
            sql = f"select id, 1 as parent_id, value from {{{{ ref('stg_{src}__{src}') }}}}\n"
            parent = None
        else:
            a, b = ints[i - N_SOURCES - 1], ints[i - 2]
            sql = (f"select a.id, b.id as parent_id, a.value from {{{{ ref('{a}') }}}} a "
                   f"join {{{{ ref('{b}') }}}} b using (id)\n")
            parent = b if i % 3 == 0 else None
        (models / "intermediate" / f"{name}.sql").write_text(sql, encoding="utf-8")
        yml += model_yml(name, parent)
        ints.append(name)
    (models / "intermediate" / "_intermediate.yml").write_text(yml, encoding="utf-8")

    # marts: fct_01..fct_20, each over two intermediate models, a few over another mart
    yml, marts = "version: 2\nmodels:\n", []
    for i in range(1, N_MARTS + 1):
        name = f"fct_{i:02d}"
        a = ints[(i * 7) % N_INTERMEDIATE]
        b = marts[-1] if i % 4 == 0 else ints[(i * 11 + 3) % N_INTERMEDIATE]
        sql = (f"select a.id, b.id as parent_id, count(*) as n from {{{{ ref('{a}') }}}} a "
               f"left join {{{{ ref('{b}') }}}} b using (id) group by 1, 2\n")
        (models / "marts" / f"{name}.sql").write_text(sql, encoding="utf-8")
        yml += model_yml(name, b if i % 5 == 0 else None)
        marts.append(name)
    (models / "marts" / "_marts.yml").write_text(yml, encoding="utf-8")


def dbt_parse(root: Path, tmp: Path) -> float:
    dbt_dir = root / "dbt"
    env = dict(os.environ, DANGO_WAREHOUSE_PATH=str(root / "data" / "warehouse.duckdb"),
               DBT_SEND_ANONYMOUS_USAGE_STATS="false", DO_NOT_TRACK="1")
    dbt = str(Path(sys.executable).with_name("dbt"))
    log = tmp / "dbt_parse.log"
    code, _, wall = bu.run_logged([dbt, "parse", "--project-dir", str(dbt_dir), "--profiles-dir", str(dbt_dir)],
                                  log, env=env)
    if code != 0 or not (dbt_dir / "target" / "manifest.json").exists():
        print(bu.tail(log))
        raise SystemExit(f"dbt parse failed (exit {code})")
    return wall


def what_if_cached_hash_assets(root: Path, repeat: int) -> float:
    """Median build time when the raw assets cache their hash (the proposed patch), via a monkeypatch.

    Every ``a >> b`` in Airflow hashes the DAG (``DAG.__hash__`` includes ``schedule``); the transform
    DAG's schedule is ``AssetAny`` of one Asset per source, and ``Asset.__hash__`` runs
    ``json.dumps(attrs.asdict(...))`` each time. Asset is frozen, so caching its hash is safe.
    """
    from airflow.sdk import Asset

    from dango_provider.config.loader import load_project
    from dango_provider.core.naming import Naming
    from dango_provider.dag_builder import build

    class CachedHashAsset(Asset):
        __eq__ = Asset.__eq__

        def __hash__(self) -> int:
            cached = self.__dict__.get("_dango_hash")
            if cached is None:
                cached = Asset.__hash__(self)
                object.__setattr__(self, "_dango_hash", cached)
            return cached

    original = build.raw_asset
    build.raw_asset = lambda source: CachedHashAsset(name=Naming.raw_asset_name(source),
                                                     uri=Naming.raw_asset_uri(source), group="dango")
    try:
        times = []
        for _ in range(repeat):
            s0 = time.perf_counter()
            build.build_dags(load_project(root))
            times.append(time.perf_counter() - s0)
    finally:
        build.raw_asset = original
    return bu.stats(times)[1]


# --------------------------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one build_dags(load_project(dir))")
    parser.add_argument("--cold-imports", action="store_true", help="no byte-code cache (see _benchutil.py)")
    args = parser.parse_args()
    code = bu.reexec_isolated(sys.argv)
    if code is not None:
        return code

    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    bu.banner("bench/dag_parse.py")
    tmp = Path(tempfile.mkdtemp(prefix="dango_bench_parse_"))
    try:
        root = tmp / "project"
        write_project(root)
        parse_s = dbt_parse(root, tmp)
        manifest = root / "dbt" / "target" / "manifest.json"
        import json

        nodes = json.loads(manifest.read_text())["nodes"].values()
        kinds = Counter(n["resource_type"] for n in nodes)
        print(f"project: {N_SOURCES} csv sources, dbt: {kinds.get('model', 0)} models ({N_SOURCES} staging + "
              f"{N_INTERMEDIATE} intermediate + {N_MARTS} marts), {kinds.get('test', 0)} tests; "
              f"dbt parse (setup) {parse_s:.1f}s, manifest {manifest.stat().st_size / 1024:.0f} KiB")

        t0 = time.perf_counter()
        import airflow  # noqa: F401
        import cosmos  # noqa: F401
        from airflow.dag_processing.dagbag import DagBag

        import dango_provider.dbt.task_group  # noqa: F401
        import dango_provider.operators.ingest  # noqa: F401
        import dango_provider.operators.staging  # noqa: F401
        from dango_provider.config.loader import load_project
        from dango_provider.dag_builder.build import build_dags
        print(f"imports (airflow, cosmos, dango_provider; not included below): {time.perf_counter() - t0:.2f}s")

        # Cosmos logs ~10 INFO lines per build: they still go through logging, to a file instead of the screen
        with bu.quiet_fds(tmp / "build.log"):
            first_t = time.perf_counter()
            dags = build_dags(load_project(root))
            first_s = time.perf_counter() - first_t
            totals, loads, builds = [], [], []
            for _ in range(args.repeat):
                s0 = time.perf_counter()
                project = load_project(root)
                s1 = time.perf_counter()
                dags = build_dags(project)
                s2 = time.perf_counter()
                loads.append(s1 - s0)
                builds.append(s2 - s1)
                totals.append(s2 - s0)
            what_if = what_if_cached_hash_assets(root, args.repeat)
        lo, med = bu.stats(totals)
        print(f"\nfirst build_dags(load_project(dir)) in this process (warms lazy imports, caches): {first_s:.3f}s")
        print(f"build_dags(load_project(dir)), {args.repeat} runs: min {lo:.3f}s, median {med:.3f}s "
              f"(target < {TARGET_BUILD_S:g} s: {'met' if med < TARGET_BUILD_S else 'NOT met'})")
        print(f"    of which load_project: median {bu.stats(loads)[1] * 1000:.1f} ms; "
              f"build_dags: median {bu.stats(builds)[1]:.3f}s")
        print(f"    what-if raw_asset() returned an Asset caching its hash (patch proposed in bench/README.md; "
              f"build.raw_asset monkeypatched here, nothing edited): median {what_if:.3f}s = "
              f"{med / what_if:.1f}x faster")

        transform = dags["dango_transform"]
        by_type = Counter(type(t).__name__ for t in transform.tasks)
        ingest_tasks = sum(len(d.tasks) for k, d in dags.items() if k != "dango_transform")
        print(f"DAGs: {len(dags)} ({len(dags) - 1} ingest DAGs with {ingest_tasks} tasks, 1 transform DAG)")
        print(f"transform DAG rendered {len(transform.tasks)} tasks: "
              + ", ".join(f"{n} {k}" for k, n in by_type.most_common())
              + f"; {len(transform.task_group.children)} top-level nodes")

        dagbag_kwargs = {"dag_folder": str(root / "dags")}
        if "include_examples" in inspect.signature(DagBag.__init__).parameters:
            dagbag_kwargs["include_examples"] = False
        bag_times = []
        with bu.quiet_fds(tmp / "dagbag.log"):
            for _ in range(args.repeat):
                s0 = time.perf_counter()
                bag = DagBag(**dagbag_kwargs)
                bag_times.append(time.perf_counter() - s0)
        blo, bmed = bu.stats(bag_times)
        print(f"\nAirflow DagBag(dag_folder=<project>/dags) in this process, {args.repeat} runs: min {blo:.3f}s, "
              f"median {bmed:.3f}s; {len(bag.dags)} DAGs, {len(bag.import_errors)} import errors "
              f"(DagBag has no include_examples in this Airflow; examples off via AIRFLOW__CORE__LOAD_EXAMPLES)"
              if "include_examples" not in dagbag_kwargs else
              f"\nAirflow DagBag(...) in this process, {args.repeat} runs: min {blo:.3f}s, median {bmed:.3f}s")
        print(f"    DagBag / build_dags(load_project(dir)) = {bmed / med:.2f}x (medians)")
        if bag.import_errors:
            print("    import errors:", next(iter(bag.import_errors.values()))[:500])

        log = tmp / "fresh_dagbag.log"
        code, peak, wall = bu.run_logged([sys.executable, "-c", FRESH_DAGBAG, str(root / "dags")], log)
        print(f"DagBag in a fresh python process: {wall:.2f}s wall (interpreter start + imports + parse; "
              f"child says: {bu.tail(log, 1)}; peak RSS {peak:.0f} MB sampled)" + ("" if code == 0 else f" FAILED {code}"))

        if args.profile:
            import cProfile
            import io
            import pstats

            prof = cProfile.Profile()
            with bu.quiet_fds(tmp / "profile.log"):
                prof.enable()
                build_dags(load_project(root))
                prof.disable()
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(30)
            print("\n-- cProfile of one build_dags(load_project(dir)) (cumulative, top 30) --")
            print(out.getvalue().strip())
        print(f"\n   load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
