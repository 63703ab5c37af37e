"""Jinja2 rendering of the plugin's pages (templates in ``plugins/templates``, HTML autoescaped)."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"


def when(value: datetime | None) -> str:
    """``2025-03-01 06:00 UTC``."""
    if value is None:
        return "-"
    return value.strftime("%Y-%m-%d %H:%M UTC") if value.utcoffset() is not None else value.strftime("%Y-%m-%d %H:%M")


def ago(value: datetime | None, now: datetime) -> str:
    """``5 min ago``, ``3.2 h ago``, ``2.0 d ago`` (``in the future`` for a clock ahead of this one)."""
    if value is None:
        return ""
    seconds = (now - value).total_seconds()
    if seconds < 0:
        return "in the future"
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} d ago"


def number(value: int | None) -> str:
    return "-" if value is None else f"{int(value):,}"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def css(value: str | None) -> str:
    """A state as a CSS class: its first word (``blocked by schema drift`` -> ``blocked``)."""
    words = re.findall(r"[a-z_]+", str(value or "").lower())
    return words[0] if words else ""


@cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(when=when, ago=ago, number=number, seconds=seconds, css=css)
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
