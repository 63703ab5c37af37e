"""What file identity by content costs: a digest of a changed file against DuckDB reading the same file,
and the per-file cost of an unchanged file (one stat).

Prints figures and ratios; asserts nothing. Baseline in the same run: DuckDB's own ``read_csv`` of the
file (the read every ingest of a new or changed file does anyway).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_csv import generate_csv  # noqa: E402

from dango_provider.core.fingerprints import content_digest, identify  # noqa: E402


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--files", type=int, default=1000, help="small files for the unchanged-file check")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "orders.csv"
        generate_csv(big, args.rows)
        size_mb = big.stat().st_size / 1e6
        digests, reads = [], []
        for _ in range(args.repeat):  # interleaved rounds
            started = time.perf_counter()
            content_digest(big)
            digests.append(time.perf_counter() - started)
            con = duckdb.connect()
            started = time.perf_counter()
            con.execute(f"SELECT count(*) FROM read_csv('{big}')").fetchone()
            reads.append(time.perf_counter() - started)
            con.close()
        small = Path(tmp) / "many"
        small.mkdir()
        paths = {}
        for i in range(args.files):
            path = small / f"f{i:05d}.csv"
            path.write_text(f"id,v\n{i},{i}\n")
            paths[path.name] = path
        started = time.perf_counter()
        first = identify(paths, {})
        hashed_all = time.perf_counter() - started
        unchanged = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            again = identify(paths, first.entries)
            unchanged.append(time.perf_counter() - started)
            assert again.hashed == 0
    digest, read = median(digests), median(reads)
    print(f"file of {args.rows:,} rows, {size_mb:.1f} MB")
    print(f"  digest (BLAKE2b, one read):     {digest:.3f} s = {size_mb / digest:,.0f} MB/s")
    print(f"  DuckDB read_csv count(*):       {read:.3f} s")
    print(f"  digest / DuckDB read:           {digest / read:.2f}x (paid once per new or changed file)")
    print(f"{args.files} small files")
    print(f"  first sight (stat + digest):    {hashed_all * 1000:.1f} ms = {hashed_all / args.files * 1e6:.0f} us/file")
    print(f"  unchanged (stat only):          {median(unchanged) * 1000:.1f} ms = "
          f"{median(unchanged) / args.files * 1e6:.0f} us/file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
