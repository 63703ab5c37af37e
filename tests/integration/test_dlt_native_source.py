"""``dlt_native`` sources: a ``@dlt.source`` module written into the project, run by real dlt pipelines
into a real DuckDB warehouse."""

from __future__ import annotations

import sqlite3
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from dango_provider.config.loader import load_project
from dango_provider.exceptions import IngestError, MissingCredentialsError
from dango_provider.sources.interval import Interval
from dango_provider.sources.runner import NothingToLoad
from tests import ingest

UTC = UTC
TOKEN = "tok-5521-not-a-real-secret"

FEED = '''
import dlt
from datetime import datetime, timedelta, timezone

EPOCH = datetime(2024, 3, 1, tzinfo=timezone.utc)


@dlt.source
def shop_feed(orders: int, region: str = "eu", token: str = "", data_interval_start=None, data_interval_end=None):
    """{orders} orders, one every 6 hours from 2024-03-01; each run reads its data interval."""
    if not token.startswith("tok-"):
        raise ValueError(f"token {token} is not a feed token")

    @dlt.resource(primary_key="order_id", write_disposition="merge")
    def orders_feed(
        placed_at=dlt.sources.incremental("placed_at", initial_value=data_interval_start or EPOCH,
                                          end_value=data_interval_end),
    ):
        for i in range(orders):
            yield {"order_id": i, "region": region, "placed_at": EPOCH + timedelta(hours=6 * i)}

    return orders_feed
'''


def make_project(root: Path, block: str, modules: dict[str, str] | None = None, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "sources.yml").write_text(
        'version: "1.0"\n'
        "defaults: {retries: 0}\n"
        "sources:\n"
        "  - name: feed\n"
        "    type: dlt_native\n"
        f"{extra}"
        f"    dlt_native: {block}\n"
    )
    for relative, text in (modules or {}).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def sync(root: Path, interval: Interval | None = None, *, full_refresh: bool = False):
    return ingest.sync(root, "feed", interval, full_refresh=full_refresh)[0]


rows = ingest.query


FEED_BLOCK = "{source_module: shop_feed, source_function: shop_feed, " \
             "function_kwargs: {orders: 12, region: us, token: '${FEED_TOKEN}'}}"


def test_custom_source_gets_its_kwargs_and_the_data_interval(tmp_path, monkeypatch):
    monkeypatch.setenv("FEED_TOKEN", TOKEN)
    root = make_project(tmp_path, FEED_BLOCK, {"custom_sources/shop_feed.py": FEED})

    # 12 orders every 6 hours from 2024-03-01 00:00: day 1 holds 4 of them
    day1 = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))
    assert sync(root, day1).row_counts == {"orders_feed": 4}
    assert rows(root, "select min(order_id), max(order_id), min(region) from raw_feed.orders_feed") == [(0, 3, "us")]
    assert sync(root, day1).row_counts == {"orders_feed": 4}  # re-run: merged, not duplicated
    # without an interval the source continues from its own stored cursor
    assert sync(root).row_counts == {"orders_feed": 12}
    assert rows(root, "select count(*), count(distinct order_id) from raw_feed.orders_feed") == [(12, 12)]
    with pytest.raises(NothingToLoad):
        sync(root)


def test_module_in_the_project_directory_without_interval_parameters(tmp_path):
    plain = '''
    import dlt

    @dlt.resource(name="regions", write_disposition="replace")
    def regions(names):
        yield [{"code": n} for n in names]
    '''
    root = make_project(tmp_path, "{source_module: lookups.regions, source_function: regions, "
                                  "function_kwargs: {names: [eu, us, apac]}}",
                        {"lookups/__init__.py": "", "lookups/regions.py": plain})
    # a bounded interval is not passed to a function that does not declare it
    interval = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))
    assert sync(root, interval).row_counts == {"regions": 3}
    assert rows(root, "select code from raw_feed.regions order by 1") == [("apac",), ("eu",), ("us",)]


def test_each_project_gets_its_own_module_of_the_same_name(tmp_path):
    template = '''
    import dlt

    @dlt.resource(name="version", write_disposition="replace")
    def version():
        yield {{"v": {v}}}
    '''
    block = "{source_module: versioned, source_function: version}"
    first = make_project(tmp_path / "one", block, {"custom_sources/versioned.py": template.format(v=1)})
    second = make_project(tmp_path / "two", block, {"custom_sources/versioned.py": template.format(v=2)})
    sync(first)
    sync(second)
    assert rows(first, "select v from raw_feed.version") == [(1,)]
    assert rows(second, "select v from raw_feed.version") == [(2,)]


def test_dango_fallback_to_a_dlt_verified_source(tmp_path):
    database = tmp_path / "shop.sqlite"
    con = sqlite3.connect(database)
    con.execute("create table stores (store_id integer primary key, city text)")
    con.executemany("insert into stores values (?, ?)", [(1, "Lyon"), (2, "Porto")])
    con.commit()
    con.close()
    root = make_project(tmp_path / "project", "{source_module: sql_database, source_function: sql_database, "
                                              f"function_kwargs: {{credentials: 'sqlite:///{database}', "
                                              "table_names: [stores]}}")
    assert sync(root).row_counts == {"stores": 2}
    assert rows(root, "select city from raw_feed.stores order by store_id") == [("Lyon",), ("Porto",)]


def test_missing_module_and_function_are_named(tmp_path):
    root = make_project(tmp_path, "{source_module: no_such_feed, source_function: feed}")
    with pytest.raises(IngestError) as info:
        sync(root)
    assert str(info.value) == (
        f"source 'feed': module 'no_such_feed' (dlt_native.source_module) was not found: not in "
        f"{tmp_path / 'custom_sources'}, not in {tmp_path}, not installed, and not dlt.sources.no_such_feed; "
        f"put no_such_feed.py into {tmp_path / 'custom_sources'}")

    root = make_project(tmp_path / "fn", "{source_module: shop_feed, source_function: shop_orders}",
                        {"custom_sources/shop_feed.py": FEED})
    with pytest.raises(IngestError) as info:
        sync(root)
    assert str(info.value) == (
        f"source 'feed': module 'shop_feed' ({tmp_path / 'fn' / 'custom_sources' / 'shop_feed.py'}) has no function "
        "'shop_orders' (dlt_native.source_function); its dlt sources and resources: shop_feed")


def test_broken_module_and_failing_function_name_the_place_and_hide_secrets(tmp_path, monkeypatch):
    broken = make_project(tmp_path / "broken", "{source_module: feed_mod, source_function: feed}",
                          {"custom_sources/feed_mod.py": "import dlt\nimport not_installed_feed_client\n"})
    with pytest.raises(IngestError) as info:
        sync(broken)
    module_file = tmp_path / "broken" / "custom_sources" / "feed_mod.py"
    assert str(info.value) == (
        "source 'feed': importing module 'feed_mod' (dlt_native.source_module) failed: ModuleNotFoundError: "
        f"No module named 'not_installed_feed_client' (at {module_file}:2)")

    monkeypatch.setenv("FEED_TOKEN", "bad-" + TOKEN)
    root = make_project(tmp_path / "fails", FEED_BLOCK, {"custom_sources/shop_feed.py": FEED})
    with pytest.raises(IngestError) as info:
        sync(root)
    feed_file = tmp_path / "fails" / "custom_sources" / "shop_feed.py"
    assert str(info.value) == (
        "source 'feed': calling shop_feed.shop_feed(**function_kwargs) failed: ValueError: token *** is not a "
        f"feed token (at {feed_file}:12)")
    assert TOKEN not in str(info.value)

    not_dlt = make_project(tmp_path / "plain", "{source_module: plain, source_function: rows}",
                           {"custom_sources/plain.py": "def rows():\n    return [{'a': 1}]\n"})
    with pytest.raises(IngestError, match="^source 'feed': plain.rows returned list, which is not a dlt source or "
                                          "resource; decorate the function with @dlt.source"):
        sync(not_dlt)


def test_missing_environment_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("FEED_TOKEN", raising=False)
    root = make_project(tmp_path, FEED_BLOCK, {"custom_sources/shop_feed.py": FEED})
    with pytest.raises(MissingCredentialsError, match="^source 'feed': dlt_native.function_kwargs.token names the "
                                                      "environment variable 'FEED_TOKEN', which is not set"):
        sync(root)


def test_dango_pipeline_and_dataset_names_are_accepted_with_a_note(tmp_path):
    from dango_provider.config.model import compatibility_notes

    root = make_project(tmp_path, "{source_module: shop_feed, source_function: shop_feed, dataset_name: shop}")
    project = load_project(root)  # Dango writes them; the names here stay fixed by the source name
    assert compatibility_notes(project.config.defaults, project.config.sources[0], dango_project=False) == [
        "dlt_native pipeline_name/dataset_name are ignored: the pipeline is dango_feed and the dataset raw_feed"]


def test_the_interval_reaches_the_function_as_utc_datetimes(tmp_path):
    probe = '''
    import dlt

    @dlt.resource(name="probe", write_disposition="append")
    def probe(data_interval_start=None, data_interval_end=None, full_refresh=None):
        yield {"start": data_interval_start, "end": data_interval_end, "full": full_refresh,
               "utc": data_interval_start is None or data_interval_start.utcoffset().total_seconds() == 0}
    '''
    root = make_project(tmp_path, "{source_module: probe, source_function: probe}",
                        {"custom_sources/probe.py": probe})
    cet = timezone(timedelta(hours=1))
    query = "select start, \"end\", \"full\", utc from raw_feed.probe order by start nulls last"
    start, end = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC)
    sync(root, Interval(datetime(2024, 3, 1, 1, tzinfo=cet), datetime(2024, 3, 2, 1, tzinfo=cet)))
    assert rows(root, query) == [(start, end, False, True)]
    sync(root)
    assert rows(root, query) == [(start, end, False, True), (None, None, False, True)]
    sync(root, full_refresh=True)  # the table is replaced
    assert rows(root, query) == [(None, None, True, True)]


SECRET_FEED = '''
import hashlib
import dlt


@dlt.source
def shop_api(api_key: str = dlt.secrets.value):
    """Rows only for the right key (its digest is written here, never the key)."""
    if hashlib.sha256(api_key.encode()).hexdigest() != "{digest}":
        raise ValueError("wrong api key")

    @dlt.resource(primary_key="id")
    def accounts():
        yield from ({{"id": i}} for i in range(3))

    return accounts
'''


@pytest.mark.slow
def test_dlt_secrets_toml_of_a_dango_project_reaches_the_task(tmp_path, airflow_home):
    """Dango keeps dlt's secrets in .dlt/secrets.toml; `dango secrets import` stores them as one Airflow
    connection and the dlt_native task hands them to dlt. The key is never printed."""
    import hashlib
    import os
    import shutil

    from tests.conftest import BIN, airflow_env, make_small_project, run

    key = "sk-" + os.urandom(12).hex()
    project = make_small_project(tmp_path / "p", "", {
        "custom_sources/shop_api.py": SECRET_FEED.format(digest=hashlib.sha256(key.encode()).hexdigest()),
        ".dlt/secrets.toml": f'[sources.shop_api]\napi_key = "{key}"\n',
    })
    (project / "sources.yml").unlink()
    (project / ".dango").mkdir()
    (project / ".dango" / "sources.yml").write_text(
        "version: '1.0'\nsources:\n- name: shop_api\n  type: dlt_native\n  dlt_native: {}\n")
    env = airflow_env(airflow_home, project)
    try:
        imported = run([str(BIN / "dango"), "secrets", "import", "--project", str(project)], env).stdout
        assert imported.splitlines() == [
            "created Airflow connection 'dango_dlt_secrets' from .dlt/secrets.toml (1 entries, read by dlt_native "
            "sources as dlt's environment variables): SOURCES__SHOP_API__API_KEY"]
        shutil.rmtree(project / ".dlt")  # the tasks read the connection, not the file
        loaded = run([str(BIN / "airflow"), "dags", "test", "dango_ingest__shop_api"], env)
        assert key not in imported + loaded.stdout + loaded.stderr
        assert ingest.query(project, "select count(*) from raw_shop_api.accounts") == [(3,)]
    finally:
        run([str(BIN / "airflow"), "connections", "delete", "dango_dlt_secrets"], env, check=False)
