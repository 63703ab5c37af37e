"""Where the project may read and write: the project directory and the roots a deployment names.

Every path that configuration can name (a source directory, a file pattern and each file it
matches, a local ``bucket_url``, ``warehouse.path``, ``dbt.project_dir``, a ``dlt_native`` module
file) is resolved, symlinks included, and must land inside one of these roots. Pure code.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePath

#: the environment form of ``[dango] allowed_data_roots``: absolute paths separated by ``os.pathsep`` or commas
ALLOWED_ROOTS_ENV = "AIRFLOW__DANGO__ALLOWED_DATA_ROOTS"


def parse_roots(text: str | None) -> tuple[Path, ...]:
    """Roots from ``[dango] allowed_data_roots`` text; each must be an absolute path."""
    if not text:
        return ()
    parts = [p.strip() for chunk in text.split(",") for p in chunk.split(os.pathsep)]
    roots = []
    for part in filter(None, parts):
        path = Path(part).expanduser()
        if not path.is_absolute():
            raise ValueError(f"[dango] allowed_data_roots: '{part}' is not an absolute path")
        roots.append(path.resolve())
    return tuple(roots)


def roots_from_environment() -> tuple[Path, ...]:
    return parse_roots(os.environ.get(ALLOWED_ROOTS_ENV))


def inside(target: Path, roots: Iterable[Path]) -> bool:
    """Whether ``target`` (resolved here, symlinks followed) lies in one of ``roots``."""
    resolved = Path(target).resolve()
    return any(resolved.is_relative_to(Path(root).resolve()) for root in roots)


def pattern_problem(pattern: str) -> str | None:
    """Why a file pattern could reach outside its directory (absolute, or with a '..' part), else None."""
    if PurePath(pattern).is_absolute() or pattern.startswith("~"):
        return "is an absolute path; a file pattern is relative to the source's directory"
    if ".." in PurePath(pattern.replace("\\", "/")).parts:
        return "has a '..' part; a file pattern may not leave the source's directory"
    return None


def outside_message(what: str, written: str, target: Path, roots: Sequence[Path]) -> str:
    return (f"{what} '{written}' resolves to '{Path(target).resolve()}', outside the project directory"
            + (" and the allowed data roots" if len(roots) > 1 else "")
            + f" ({', '.join(str(r) for r in roots)}); move the data into the project or name its directory in "
            f"[dango] allowed_data_roots ({ALLOWED_ROOTS_ENV})")
