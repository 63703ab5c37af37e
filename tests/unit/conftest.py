"""Fixtures of the unit suite: real files in ``tmp_path``."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "project"
    directory.mkdir()
    return directory


@pytest.fixture
def write_sources(project_dir: Path) -> Callable[..., Path]:
    """Write a sources file (dedented text, or raw bytes) into ``project_dir``; return its path."""

    def write(text: str | bytes, relative: str = "sources.yml") -> Path:
        path = project_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write
