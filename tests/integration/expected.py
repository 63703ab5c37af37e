"""Expected demo figures computed straight from the CSV files, independently of dbt and dlt."""

from __future__ import annotations

import csv
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

KEYS = {"customers": "customer_id", "products": "product_id", "orders": "order_id", "order_lines": "order_line_id"}


def latest_rows(data_dir: Path, source: str) -> dict[str, dict]:
    """One row per key; files in name order, a later file's row wins."""
    rows: dict[str, dict] = {}
    for path in sorted((data_dir / source).glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                rows[row[KEYS[source]]] = row
    return rows


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def demo_expectations(data_dir: Path) -> dict:
    customers = latest_rows(data_dir, "customers")
    orders = latest_rows(data_dir, "orders")
    lines = latest_rows(data_dir, "order_lines")
    counted = {k: o for k, o in orders.items() if o["status"] != "cancelled"}
    lifetime: dict[str, Decimal] = defaultdict(Decimal)
    order_count: dict[str, set] = defaultdict(set)
    daily: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in lines.values():
        order = counted.get(line["order_id"])
        if order is None:
            continue
        revenue = Decimal(line["quantity"]) * Decimal(line["unit_price"])
        lifetime[order["customer_id"]] += revenue
        order_count[order["customer_id"]].add(line["order_id"])
        daily[(order["order_date"], line["product_id"])] += revenue
    return {
        "counts": {s: len(latest_rows(data_dir, s)) for s in KEYS},
        "lifetime_value": {int(c): _money(lifetime.get(c, Decimal(0))) for c in customers},
        "order_count": {int(c): len(order_count.get(c, ())) for c in customers},
        "daily_rows": len(daily),
        "total_revenue": _money(sum(daily.values(), Decimal(0))),
    }
