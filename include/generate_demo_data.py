"""Generate the demo CSV files under include/data/<source>/.

Deterministic (seeded ``random``, stdlib only): running it again rewrites the
same bytes. ``<source>_1.csv`` is the initial load, ``<source>_2.csv`` is a
delta that updates some keys of the first file and adds new keys.

Usage: python include/generate_demo_data.py [output_dir]
"""

from __future__ import annotations

import csv
import random
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

SEED = 20240301
DATA_DIR = Path(__file__).resolve().parent / "data"

COLUMNS = {
    "customers": ["customer_id", "first_name", "last_name", "email", "country", "signup_date", "updated_at"],
    "products": ["product_id", "product_name", "category", "unit_price", "updated_at"],
    "orders": ["order_id", "customer_id", "order_date", "status", "updated_at"],
    "order_lines": ["order_line_id", "order_id", "product_id", "quantity", "unit_price"],
}

FIRST_NAMES = [
    "Aiko", "Ben", "Chloe", "Daniel", "Elena", "Felix", "Grace", "Hugo", "Isla", "Jonas",
    "Kenji", "Lena", "Marco", "Nina", "Oscar", "Priya", "Quinn", "Rosa", "Sven", "Tara",
    "Umar", "Vera", "Wei", "Yuki", "Zoe",
]
LAST_NAMES = [
    "Andersen", "Bauer", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jensen",
    "Kowalski", "Larsen", "Moreau", "Nakamura", "Olsen", "Peters", "Rossi", "Schmidt", "Tanaka", "Weber",
]
COUNTRIES = ["US", "GB", "DE", "FR", "NL", "ES", "IT", "JP", "CA", "AU"]

# product_id -> (name, category, list price in the first file)
PRODUCTS = {
    1: ("Mitarashi Dango", "Dango", 4.50),
    2: ("Hanami Dango", "Dango", 5.20),
    3: ("Anko Dango", "Dango", 4.80),
    4: ("Goma Dango", "Dango", 4.90),
    5: ("Matcha Dango", "Dango", 5.60),
    6: ("Sencha Loose Leaf 100g", "Tea", 12.00),
    7: ("Genmaicha 100g", "Tea", 9.50),
    8: ("Hojicha 100g", "Tea", 10.25),
    9: ("Ceremonial Matcha 30g", "Tea", 24.90),
    10: ("Gyokuro 50g", "Tea", 31.75),
    11: ("Bamboo Skewers x50", "Accessories", 3.99),
    12: ("Ceramic Teapot", "Accessories", 38.00),
    13: ("Matcha Whisk", "Accessories", 16.40),
    14: ("Tea Cup Set", "Accessories", 27.80),
    15: ("Dango Gift Box", "Gift", 22.00),
}
# Delta: new prices, one rename without a price change, and new products.
PRODUCT_PRICE_UPDATES = {2: 5.60, 5: 5.95, 9: 26.50, 12: 34.00, 13: 17.25}
PRODUCT_RENAMES = {7: "Genmaicha Roasted 100g"}
NEW_PRODUCTS = {
    16: ("Kinako Dango", "Dango", 5.10),
    17: ("Yuzu Sencha 100g", "Tea", 13.50),
    18: ("Tea Tray", "Accessories", 19.90),
    19: ("Seasonal Gift Box", "Gift", 29.00),
    20: ("Cast Iron Kettle", "Accessories", 64.00),  # never ordered
}
# Delta: customer changes (field -> new value).
CUSTOMER_UPDATES = {
    5: {"email": "new"},
    12: {"country": "AT"},
    19: {"email": "new"},
    23: {"country": "SE"},
    31: {"last_name": "Nakamura", "email": "new"},
    40: {"country": "JP"},
}
N_CUSTOMERS, N_NEW_CUSTOMERS = 40, 8
N_PRODUCTS = 15
N_ORDERS, N_NEW_ORDERS = 120, 12
N_LINES = 300
START = date(2024, 3, 1)  # orders of the first file: 2024-03-01 .. 2024-03-30
DELTA_TS = datetime(2024, 4, 5, 9, 0, 0)  # updates in the second file happen from here on


def ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def money(value: float) -> str:
    return f"{value:.2f}"


def email_for(first: str, last: str, cid: int, domain: str = "example.com") -> str:
    return f"{first.lower()}.{last.lower()}{cid}@{domain}"


def write_csv(out_dir: Path, source: str, part: int, rows: list[dict]) -> None:
    path = out_dir / source / f"{source}_{part}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS[source], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def generate(out_dir: Path) -> None:
    rng = random.Random(SEED)

    # customers
    customers_1 = []
    for cid in range(1, N_CUSTOMERS + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        signup = date(2023, 1, 1) + timedelta(days=rng.randrange(0, 420))
        customers_1.append({
            "customer_id": cid, "first_name": first, "last_name": last,
            "email": email_for(first, last, cid), "country": rng.choice(COUNTRIES),
            "signup_date": signup.isoformat(),
            "updated_at": ts(datetime.combine(signup, datetime.min.time()) + timedelta(minutes=rng.randrange(60, 1440))),
        })
    customers_2 = []
    for n, (cid, change) in enumerate(sorted(CUSTOMER_UPDATES.items())):
        row = dict(customers_1[cid - 1])
        row.update({k: v for k, v in change.items() if k != "email"})
        if "email" in change:
            row["email"] = email_for(row["first_name"], row["last_name"], cid, "mail.example.org")
        row["updated_at"] = ts(DELTA_TS + timedelta(hours=n))
        customers_2.append(row)
    for cid in range(N_CUSTOMERS + 1, N_CUSTOMERS + N_NEW_CUSTOMERS + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        signup = date(2024, 3, 28) + timedelta(days=rng.randrange(0, 3))
        customers_2.append({
            "customer_id": cid, "first_name": first, "last_name": last,
            "email": email_for(first, last, cid), "country": rng.choice(COUNTRIES + ["SE", "AT"]),
            "signup_date": signup.isoformat(),
            "updated_at": ts(datetime.combine(signup, datetime.min.time()) + timedelta(hours=10)),
        })

    # products
    products_1 = [
        {"product_id": pid, "product_name": name, "category": cat, "unit_price": money(price),
         "updated_at": ts(datetime(2024, 1, 15, 8, 0, 0) + timedelta(minutes=5 * pid))}
        for pid, (name, cat, price) in PRODUCTS.items()
    ]
    products_2 = []
    for pid in sorted(set(PRODUCT_PRICE_UPDATES) | set(PRODUCT_RENAMES)):
        row = dict(products_1[pid - 1])
        if pid in PRODUCT_PRICE_UPDATES:
            row["unit_price"] = money(PRODUCT_PRICE_UPDATES[pid])
        row["product_name"] = PRODUCT_RENAMES.get(pid, row["product_name"])
        row["updated_at"] = ts(datetime(2024, 3, 31, 0, 0, 0))
        products_2.append(row)
    for pid, (name, cat, price) in NEW_PRODUCTS.items():
        products_2.append({"product_id": pid, "product_name": name, "category": cat,
                           "unit_price": money(price), "updated_at": ts(datetime(2024, 3, 31, 0, 0, 0))})

    # orders: customer 37 has a single cancelled order, customer 36 a single
    # placed order (cancelled in the delta), customers 38-40 never order.
    orders_1 = []
    for oid in range(1, N_ORDERS + 1):
        day = (oid - 1) * 30 // N_ORDERS
        order_date = START + timedelta(days=day)
        roll = rng.random()
        if day < 20:
            status = "delivered" if roll < 0.85 else ("cancelled" if roll < 0.95 else "shipped")
        elif day < 25:
            status = "shipped" if roll < 0.6 else ("delivered" if roll < 0.85 else ("cancelled" if roll < 0.9 else "placed"))
        else:
            status = "placed" if roll < 0.7 else ("shipped" if roll < 0.95 else "cancelled")
        customer_id = rng.randint(1, 35)
        if oid == 10:
            customer_id, status = 37, "cancelled"
        elif oid == 118:
            customer_id, status = 36, "placed"
        created = datetime.combine(order_date, datetime.min.time()) + timedelta(minutes=rng.randrange(480, 1320))
        orders_1.append({"order_id": oid, "customer_id": customer_id, "order_date": order_date.isoformat(),
                         "status": status, "updated_at": ts(created + timedelta(hours=2))})

    placed = [o["order_id"] for o in orders_1 if o["status"] == "placed" and o["order_id"] != 118]
    shipped = [o["order_id"] for o in orders_1 if o["status"] == "shipped"]
    picked = rng.sample(placed, 7)
    transitions = {oid: "shipped" for oid in picked[:5]}
    transitions.update({oid: "cancelled" for oid in picked[5:]})
    transitions[118] = "cancelled"
    transitions.update({oid: "delivered" for oid in rng.sample(shipped, 2)})
    orders_2 = []
    for n, oid in enumerate(sorted(transitions)):
        row = dict(orders_1[oid - 1])
        row["status"] = transitions[oid]
        row["updated_at"] = ts(DELTA_TS + timedelta(minutes=15 * n))
        orders_2.append(row)
    new_customers = list(range(N_CUSTOMERS + 1, N_CUSTOMERS + 5)) + list(range(1, 36))
    for n, oid in enumerate(range(N_ORDERS + 1, N_ORDERS + N_NEW_ORDERS + 1)):
        order_date = date(2024, 3, 31) + timedelta(days=n // 3)
        customer_id = new_customers[n] if n < 4 else rng.choice(new_customers)
        status = "cancelled" if oid == N_ORDERS + N_NEW_ORDERS else "placed"
        created = datetime.combine(order_date, datetime.min.time()) + timedelta(minutes=rng.randrange(480, 1320))
        orders_2.append({"order_id": oid, "customer_id": customer_id, "order_date": order_date.isoformat(),
                         "status": status, "updated_at": ts(created)})

    # order lines: every order has at least one line, products are distinct
    # within an order, the price paid is the list price of the time, with an
    # occasional 10% discount.
    def price_paid(list_price: float) -> str:
        return money(round(list_price * 0.9, 2) if rng.random() < 0.2 else list_price)

    counts = [1] * N_ORDERS
    while sum(counts) < N_LINES:
        i = rng.randrange(N_ORDERS)
        if counts[i] < 5:
            counts[i] += 1
    order_lines_1, line_id = [], 0
    for oid, count in zip(range(1, N_ORDERS + 1), counts):
        for pid in sorted(rng.sample(range(1, N_PRODUCTS + 1), count)):
            line_id += 1
            order_lines_1.append({"order_line_id": line_id, "order_id": oid, "product_id": pid,
                                  "quantity": rng.choice([1, 1, 1, 2, 2, 3, 4]),
                                  "unit_price": price_paid(PRODUCTS[pid][2])})

    cancelled = {o["order_id"] for o in orders_1 if o["status"] == "cancelled"} | set(transitions)
    editable = [r for r in order_lines_1 if r["order_id"] not in cancelled]
    order_lines_2 = []
    for row in sorted(rng.sample(editable, 5), key=lambda r: r["order_line_id"]):
        order_lines_2.append(dict(row, quantity=row["quantity"] + rng.choice([1, 2, 5])))
    current = {pid: PRODUCT_PRICE_UPDATES.get(pid, p[2]) for pid, p in PRODUCTS.items()}
    current.update({pid: p[2] for pid, p in NEW_PRODUCTS.items()})
    new_counts = [1] * N_NEW_ORDERS
    for i in rng.sample(range(N_NEW_ORDERS), 6):
        new_counts[i] += 1
    new_orders = list(range(N_ORDERS + 1, N_ORDERS + N_NEW_ORDERS + 1))
    pool = list(range(1, N_PRODUCTS + 1)) + [16, 16, 17, 17, 18, 19]
    line_id = N_LINES
    for oid, count in zip(new_orders, new_counts):
        pids: set[int] = set()
        while len(pids) < count:
            pids.add(rng.choice(pool))
        for pid in sorted(pids):
            line_id += 1
            order_lines_2.append({"order_line_id": line_id, "order_id": oid, "product_id": pid,
                                  "quantity": rng.choice([1, 1, 2, 3]), "unit_price": price_paid(current[pid])})

    write_csv(out_dir, "customers", 1, customers_1)
    write_csv(out_dir, "customers", 2, customers_2)
    write_csv(out_dir, "products", 1, products_1)
    write_csv(out_dir, "products", 2, products_2)
    write_csv(out_dir, "orders", 1, orders_1)
    write_csv(out_dir, "orders", 2, orders_2)
    write_csv(out_dir, "order_lines", 1, order_lines_1)
    write_csv(out_dir, "order_lines", 2, order_lines_2)


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA_DIR)
