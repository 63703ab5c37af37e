"""The rows-per-run chart: one row of bars per source, drawn as SVG on the server."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from dango_provider.plugins.chart import BAR_AREA_HEIGHT, rows_per_run_svg

SVG = "{http://www.w3.org/2000/svg}"


def bars(svg: str, source: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    group = next(g for g in root.iter(f"{SVG}g") if g.get("data-source") == source)
    return list(group.iter(f"{SVG}rect"))


def test_one_bar_per_load_with_heights_relative_to_the_largest_load():
    svg = rows_per_run_svg({"orders": [("t1", 100), ("t2", 50), ("t3", 0)], "events": [("t1", 7)]})

    orders = bars(svg, "orders")
    assert [int(b.get("data-rows")) for b in orders] == [100, 50, 0]
    assert [int(b.get("height")) for b in orders] == [BAR_AREA_HEIGHT, BAR_AREA_HEIGHT // 2, 0]
    # bars stand on one baseline, oldest on the left
    assert len({int(b.get("y")) + int(b.get("height")) for b in orders}) == 1
    assert [int(b.get("x")) for b in orders] == sorted(int(b.get("x")) for b in orders)
    assert [int(b.get("height")) for b in bars(svg, "events")] == [BAR_AREA_HEIGHT]
    assert "max 100" in svg and "max 7" in svg


def test_each_bar_says_when_and_how_many_rows():
    svg = rows_per_run_svg({"orders": [("2025-03-01 06:00 UTC", 1234567)]})
    (bar,) = bars(svg, "orders")
    assert bar.find(f"{SVG}title").text == "orders 2025-03-01 06:00 UTC: 1,234,567 rows"


def test_a_tiny_load_beside_a_huge_one_stays_visible():
    svg = rows_per_run_svg({"orders": [("t1", 1_000_000), ("t2", 1)]})
    assert [int(b.get("height")) for b in bars(svg, "orders")] == [BAR_AREA_HEIGHT, 1]


def test_only_the_last_runs_are_drawn():
    svg = rows_per_run_svg({"orders": [(f"t{i}", i + 1) for i in range(50)]}, max_runs=30)
    drawn = bars(svg, "orders")
    assert len(drawn) == 30
    assert drawn[0].get("data-rows") == "21" and drawn[-1].get("data-rows") == "50"


def test_sources_without_loads_and_no_sources():
    svg = rows_per_run_svg({"orders": [], "events": [("t1", 3)]})
    assert bars(svg, "orders") == []
    assert "no loads yet" in svg
    assert "no sources" in rows_per_run_svg({})
    ET.fromstring(rows_per_run_svg({}))  # well-formed


def test_text_is_escaped():
    svg = rows_per_run_svg({"a<b": [("<now>", 1)]})
    ET.fromstring(svg)
    assert "<now>" not in svg and "&lt;now&gt;" in svg
    assert not re.search(r"<(script|image|use|foreignObject)\b", svg)


def test_rows_keep_the_order_of_the_sources():
    root = ET.fromstring(rows_per_run_svg({"orders": [("t", 1)], "customers": [("t", 1)], "api": []}))
    assert [g.get("data-source") for g in root.iter(f"{SVG}g")] == ["orders", "customers", "api"]


def test_axes_are_labelled_and_each_row_shows_its_first_and_last_load_time():
    svg = rows_per_run_svg({"orders": [("2025-03-01 06:00 UTC", 5), ("2025-03-02 06:00 UTC", 7)],
                            "events": [("2025-03-02 07:00 UTC", 1)], "quiet": []})
    root = ET.fromstring(svg)
    titles = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "axis-title"]
    assert titles == ["source", "rows per load by load time (oldest left)"]
    dates = {g.get("data-source"): [t.text for t in g.iter(f"{SVG}text") if t.get("class") == "dates"]
             for g in root.iter(f"{SVG}g")}
    assert dates == {"orders": ["2025-03-01 06:00 UTC \u2192 2025-03-02 06:00 UTC"],
                     "events": ["2025-03-02 07:00 UTC"], "quiet": []}
