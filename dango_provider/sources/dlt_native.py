"""``dlt_native`` sources: the user's own dlt source function, imported from the project as Dango does.

``source_module`` is looked up, in order, in the project's ``custom_sources/`` directory (Dango's place
for them), in the project directory itself, in the installed packages, and finally as
``dlt.sources.<source_module>`` (so Dango's ``source_module: sql_database`` keeps working). A module
found in the project is imported fresh for every run, so an edited file takes effect without
restarting the worker.

``source_function(**function_kwargs)`` must return a dlt source, a dlt resource or a list of
resources. String values of ``function_kwargs`` may name environment variables as ``${NAME}``.

The run's slice of time is passed to the function when, and only when, it declares parameters of
these names (and ``function_kwargs`` does not set them):

- ``data_interval_start`` / ``data_interval_end``: aware UTC datetimes of the run's data interval,
  both ``None`` for a run without one (a manual trigger: continue from your stored cursor);
- ``full_refresh``: ``True`` when every table is to be read again (the tables are then replaced).

A typical incremental resource uses them as
``dlt.sources.incremental("updated_at", initial_value=data_interval_start, end_value=data_interval_end)``.
Explicit ``primary_key`` and ``write_disposition`` of the source entry are applied to every resource.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import inspect
import logging
import os
import re
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dango_provider.config.dlt_native import DltNativeOptions
from dango_provider.config.loader import Project
from dango_provider.config.model import Source
from dango_provider.core.paths import inside, outside_message
from dango_provider.exceptions import IngestError
from dango_provider.sources import credentials
from dango_provider.sources.interval import Interval

log = logging.getLogger(__name__)

CUSTOM_SOURCES_DIR = "custom_sources"
INTERVAL_PARAMETERS = ("data_interval_start", "data_interval_end", "full_refresh")
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def build(project: Project, source: Source, interval: Interval):
    from dango_provider.sources.credentials import apply_dlt_secrets

    options: DltNativeOptions = source.options
    secrets: list[str] = apply_dlt_secrets()  # a Dango project's .dlt/secrets.toml, if imported
    kwargs = {key: _resolve(value, source, f"dlt_native.function_kwargs.{key}", secrets)
              for key, value in options.function_kwargs.items()}
    module_name = options.source_module or source.name
    module = import_source_module(project, module_name)
    function_name = options.source_function or _discover_function(module, module_name)
    function = _function(module, module_name, function_name)
    parameters = _parameters(function)
    passed = {"data_interval_start": _utc(interval.start) if interval.bounded else None,
              "data_interval_end": _utc(interval.end) if interval.bounded else None,
              "full_refresh": interval.full_refresh}
    for name in INTERVAL_PARAMETERS:
        if name in parameters and name not in kwargs:
            kwargs[name] = passed[name]
    label = f"{module_name}.{function_name}"
    log.info("source '%s': calling %s with %s", source.name, label, ", ".join(sorted(kwargs)) or "no arguments")

    failure = None
    try:
        result = function(**kwargs)
    except Exception as exc:  # the user's code: report where it failed
        failure = IngestError(f"calling {label}(**function_kwargs) failed: {_scrub(_describe(exc), secrets)}"
                              + _user_frame(exc, project))
    if failure is not None:  # raised outside the handler, so the original (maybe secret-bearing) text stays behind
        raise failure
    resources = _resources(result, label)
    _apply_source_hints(source, resources)
    return result


def import_source_module(project: Project, name: str):
    """Import ``name`` from the project (fresh) or the installed packages, else ``dlt.sources.<name>``."""
    search = [str(d) for d in (project.root / CUSTOM_SOURCES_DIR, project.root) if d.is_dir()]
    top = name.split(".")[0]
    spec = importlib.machinery.PathFinder.find_spec(top, search)
    origin = spec.origin if spec is not None and spec.origin != "namespace" else None  # a directory is no module
    local = origin is not None
    if origin is not None and not inside(Path(origin), project.roots):
        raise IngestError("dlt_native.source_module: "
                          + outside_message(f"module '{name}'", origin, Path(origin), project.roots))
    cached = sys.modules.get(top)
    if local and cached is not None and _installed(cached):
        raise IngestError(
            f"{origin} has the name of the installed module '{top}', which is already imported; "
            "rename the file (and dlt_native.source_module)"
        )
    failure = None
    module = None
    if local:
        for loaded in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
            del sys.modules[loaded]  # a module of another project, or an older version of this file
        sys.path[:0] = search
        importlib.invalidate_caches()
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if not _is_missing(exc, name):
            failure = _import_failure(name, exc, project)
    except Exception as exc:
        failure = _import_failure(name, exc, project)
    finally:
        if local:
            for entry in search:
                sys.path.remove(entry)
    if failure is not None:
        raise failure
    if module is None:
        try:
            module = importlib.import_module(f"dlt.sources.{name}")
        except ModuleNotFoundError as exc:
            if not _is_missing(exc, f"dlt.sources.{name}"):
                failure = _import_failure(f"dlt.sources.{name}", exc, project)
            else:
                failure = IngestError(
                    f"module '{name}' (dlt_native.source_module) was not found: not in "
                    f"{project.root / CUSTOM_SOURCES_DIR}, not in {project.root}, not installed, and not "
                    f"dlt.sources.{name}; put {name.replace('.', '/')}.py into {project.root / CUSTOM_SOURCES_DIR}"
                )
        if failure is not None:
            raise failure
    return module


def _installed(module) -> bool:
    """True for a built-in module or one under the Python installation (stdlib, site-packages)."""
    file = getattr(module, "__file__", None)
    if not file:
        return True
    path = Path(file).resolve()
    return any(path.is_relative_to(Path(prefix).resolve())
               for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix})


def _is_missing(exc: ModuleNotFoundError, name: str) -> bool:
    """True when ``name`` itself (or a package above it) is what was not found, not one of its imports."""
    parts = name.split(".")
    return exc.name in {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def _import_failure(name: str, exc: BaseException, project: Project) -> IngestError:
    return IngestError(f"importing module '{name}' (dlt_native.source_module) failed: {_describe(exc)}"
                       + _user_frame(exc, project))


def _function(module, module_name: str, function_name: str):
    function = getattr(module, function_name, None)
    where = getattr(module, "__file__", None) or module.__name__
    if function is None or not callable(function):
        candidates = sorted(n for n, v in vars(module).items() if not n.startswith("_") and _is_dlt_callable(v))
        problem = "has no function" if function is None else "has a name that is not a function:"
        raise IngestError(
            f"module '{module_name}' ({where}) {problem} '{function_name}' "
            "(dlt_native.source_function); its dlt sources and resources: " + (", ".join(candidates) or "none")
        )
    return function


def _discover_function(module, module_name: str) -> str:
    """The module's one ``@dlt.source`` function (else its one ``@dlt.resource``), as Dango discovers a
    custom source when ``source_function`` is not given."""
    from dlt.extract import DltResource

    own = {n: v for n, v in vars(module).items() if not n.startswith("_") and _is_dlt_callable(v)
           and getattr(v, "__module__", module.__name__) == module.__name__}
    sources = sorted(n for n, v in own.items() if not isinstance(v, DltResource))
    found = sources or sorted(own)
    if len(found) != 1:
        where = getattr(module, "__file__", None) or module.__name__
        raise IngestError(f"module '{module_name}' ({where}) has {len(found)} dlt sources ({', '.join(found) or 'none'}); "
                          "set dlt_native.source_function to the one to call")
    return found[0]


def _is_dlt_callable(value: Any) -> bool:
    from dlt.extract import DltResource
    from dlt.extract.decorators import DltSourceFactoryWrapper

    return isinstance(value, (DltSourceFactoryWrapper, DltResource))


def _parameters(function) -> set[str]:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return set()
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {name for name, p in signature.parameters.items() if p.kind in kinds}


def _resources(result: Any, label: str) -> list:
    """The resources of what the function returned; fails when it is not dlt data."""
    from dlt.extract import DltResource, DltSource

    if isinstance(result, DltSource):
        return list(result.selected_resources.values())
    if isinstance(result, DltResource):
        return [result]
    if isinstance(result, (list, tuple)) and result and all(isinstance(r, DltResource) for r in result):
        return list(result)
    raise IngestError(
        f"{label} returned {type(result).__name__}, which is not a dlt source or resource; decorate the function "
        "with @dlt.source (returning resources) or @dlt.resource, or return a list of resources"
    )


def _apply_source_hints(source: Source, resources: list) -> None:
    hints: dict = {}
    if source.primary_key:
        hints["primary_key"] = source.primary_key
    if source.write_disposition == "merge":
        hints["write_disposition"] = {"disposition": "merge", "strategy": "delete-insert"}
    elif source.write_disposition:
        hints["write_disposition"] = source.write_disposition
    if hints:
        for resource in resources:
            resource.apply_hints(**hints)


def _resolve(value: Any, source: Source, field: str, secrets: list[str]) -> Any:
    """``value`` with every ``${NAME}`` replaced by environment variable NAME (masked in logs)."""
    if isinstance(value, str):
        def substitute(match: re.Match) -> str:
            secret = credentials.env_secret(match.group(1), source=source.name, field=field)
            secrets.append(secret)
            return secret

        return _ENV_REFERENCE.sub(substitute, value)
    if isinstance(value, dict):
        return {k: _resolve(v, source, f"{field}.{k}", secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, source, f"{field}[{i}]", secrets) for i, v in enumerate(value)]
    return value


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(value.timestamp(), tz=UTC)


def _describe(exc: BaseException) -> str:
    text = " ".join(line.strip() for line in str(exc).strip().splitlines() if line.strip())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _user_frame(exc: BaseException, project: Project) -> str:
    """`` (at file:line)`` of the innermost frame in the project's own files, if any."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" (at {exc.filename}:{exc.lineno})"
    root = str(project.root.resolve()) + os.sep
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if str(Path(f.filename).resolve()).startswith(root)]
    return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
