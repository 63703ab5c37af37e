"""A paged REST endpoint into DuckDB: the `rest_api` ingest vs fetching the same pages bare.

A local HTTP server (tests/servers/saas.py) serves N records (default 100,000) in pages of 1,000
with a `next` link and bearer auth. Baseline: an httpx client following the links and decoding the
JSON (no storage). Provider: `extract_source` + `load_source` of a `rest_api` source into a fresh
DuckDB warehouse. Prints records/s of each and the ratio.

    python bench/rest_ingest.py [--records 100000] [--page-size 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._benchutil import code_version, import_mode, reexec_isolated, timed_sync, versions  # noqa: E402

TOKEN = "bench_token_0123456789"


def _bare(url: str, page_size: int) -> tuple[int, float]:
    import httpx

    started = time.perf_counter()
    records = 0
    next_url = f"{url}/api/orders?page_size={page_size}"
    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as client:
        while next_url:
            body = client.get(next_url).json()
            records += len(body["data"])
            next_url = body["next"]
    return records, time.perf_counter() - started


def _provider(url: str, page_size: int, root: Path) -> tuple[int, float, float, float]:
    os.environ["BENCH_API_TOKEN"] = TOKEN
    root.mkdir(parents=True)
    (root / "sources.yml").write_text(
        "sources:\n  - name: api\n    type: rest_api\n"
        f"    rest_api: {{base_url: '{url}/api', auth_type: bearer, auth_token_env: BENCH_API_TOKEN, "
        f"endpoints: [{{path: orders, name: orders, data_selector: data, params: {{page_size: {page_size}}}, "
        "paginator: {type: json_link, next_url_path: next}}]}\n")
    result = timed_sync(root, "api")
    return result["rows"], result["seconds"], result["extract"], result["load"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=1_000)
    parser.add_argument("--cold-imports", action="store_true")
    args = parser.parse_args()
    code = reexec_isolated(sys.argv)
    if code is not None:
        return code

    from tests.servers.saas import SaasServer, iso

    print(f"# rest_api ingest: {args.records:,} records in pages of {args.page_size:,}; {versions()}; "
          f"{code_version()}")
    print(f"# {import_mode()}")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with SaasServer(token=TOKEN) as server, tempfile.TemporaryDirectory(prefix="dango_bench_rest_") as tmp:
        server.api_auth = ("bearer", TOKEN)
        server.api["orders"] = [{"id": i, "updated_at": iso(start + timedelta(seconds=i)), "total": i * 0.5,
                                 "status": ("new", "paid", "shipped")[i % 3], "customer": {"id": i % 997}}
                                for i in range(args.records)]
        bare_records, bare_seconds = _bare(server.url, args.page_size)
        records, seconds, extract, load = _provider(server.url, args.page_size, Path(tmp) / "project")
    print(f"bare fetch: {bare_records:,} records in {bare_seconds:.2f} s = {bare_records / bare_seconds:,.0f} records/s")
    print(f"provider:   {records:,} records in {seconds:.2f} s = {records / seconds:,.0f} records/s "
          f"(extract+normalize {extract:.2f} s, load {load:.2f} s)")
    print(f"ratio provider/bare fetch: {(records / seconds) / (bare_records / bare_seconds):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
