"""Rows loaded per run, per source, as an inline SVG drawn on the server (no script, nothing fetched).

One row of bars per source (small multiples): each bar is one load, oldest on the left, its height
relative to the largest load of that source (the row says how many rows that is). The axes are labelled
(rows up, load time along) and each row's time axis is marked with its first and last load's time.
Every bar has a ``<title>`` with the load's time and rows, which browsers show on hover.
"""

from __future__ import annotations

from html import escape

ROW_HEIGHT = 48
BAR_AREA_HEIGHT = 24
HEADER_HEIGHT = 20
#: the row's first and last load times under its axis need this much room
DATES_WIDTH = 290
LABEL_WIDTH = 150
VALUE_WIDTH = 110
BAR_SLOT = 12
BAR_WIDTH = 9
MAX_RUNS = 30


def _number(value: int) -> str:
    return f"{value:,}"


def rows_per_run_svg(series: dict[str, list[tuple[str, int]]], *, max_runs: int = MAX_RUNS) -> str:
    """An SVG element for ``{source: [(load time, rows), ...]}`` (oldest first), one row per source in
    the order given. Sources without loads get a row saying so; only the last ``max_runs`` loads of a
    source are drawn.
    """
    names = list(series)
    slots = max([min(len(series[n]), max_runs) for n in names] + [1])
    width = LABEL_WIDTH + max(slots * BAR_SLOT + VALUE_WIDTH, DATES_WIDTH)
    height = HEADER_HEIGHT + max(len(names), 1) * ROW_HEIGHT + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="runs-chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="Rows loaded per run, per source">',
        "<title>Rows loaded per run, per source</title>",
        f'<text x="0" y="13" class="axis-title">source</text>'
        f'<text x="{LABEL_WIDTH}" y="13" class="axis-title">rows per load by load time (oldest left)</text>',
    ]
    if not names:
        parts.append(f'<text x="0" y="{HEADER_HEIGHT + ROW_HEIGHT // 2}" class="empty">no sources</text>')
    for index, name in enumerate(names):
        runs = series[name][-max_runs:]
        top = HEADER_HEIGHT + index * ROW_HEIGHT + 2
        baseline = top + BAR_AREA_HEIGHT
        label = escape(name)
        parts.append(f'<g class="series" data-source="{label}">')
        parts.append(f'<text x="0" y="{baseline - 6}" class="label">{label}</text>')
        parts.append(f'<line x1="{LABEL_WIDTH}" y1="{baseline}" x2="{LABEL_WIDTH + slots * BAR_SLOT}" '
                     f'y2="{baseline}" class="axis"/>')
        if not runs:
            parts.append(f'<text x="{LABEL_WIDTH + 4}" y="{baseline - 6}" class="empty">no loads yet</text>')
        largest = max((rows for _, rows in runs), default=0)
        for slot, (at, rows) in enumerate(runs):
            bar = 0 if rows <= 0 else max(1, round(BAR_AREA_HEIGHT * rows / largest))
            x = LABEL_WIDTH + slot * BAR_SLOT
            parts.append(
                f'<rect class="bar" x="{x}" y="{baseline - bar}" width="{BAR_WIDTH}" height="{bar}" '
                f'data-rows="{int(rows)}"><title>{label} {escape(at)}: {_number(int(rows))} rows</title></rect>'
            )
        if runs:
            parts.append(f'<text x="{LABEL_WIDTH + slots * BAR_SLOT + 8}" y="{baseline - 6}" class="value">'
                         f"max {_number(int(largest))}</text>")
            first, last = escape(runs[0][0]), escape(runs[-1][0])
            parts.append(f'<text x="{LABEL_WIDTH}" y="{baseline + 13}" class="dates">'
                         + (first if len(runs) == 1 else f"{first} \u2192 {last}") + "</text>")
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
