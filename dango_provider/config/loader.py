"""Load sources.yml into the typed model, with errors that name file, line and field path."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dango_provider.config.dango_project import apply_platform_paths, read_platform_paths, relocate
from dango_provider.config.dango_schedules import DangoSchedules, read_dango_schedules
from dango_provider.config.model import DuplicateSourceName, Source, SourcesFile
from dango_provider.core.paths import inside, outside_message, pattern_problem, roots_from_environment
from dango_provider.core.secret_text import URL_CREDENTIALS_MESSAGE, env_name_problem, url_credentials
from dango_provider.exceptions import DangoConfigError, DangoConfigErrors

SOURCES_FILE_CANDIDATES = ("sources.yml", "sources.yaml", ".dango/sources.yml", ".dango/sources.yaml")


_MERGE_TAG = "tag:yaml.org,2002:merge"


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key repeated in one mapping (PyYAML keeps the last one silently).

    Merge keys (``<<: *defaults``, YAML 1.1) work as in PyYAML: keys written in the mapping override
    the merged ones; only keys written twice in the mapping itself are refused."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    first = seen.get(key)
                except TypeError:  # unhashable key: SafeLoader reports it
                    continue
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"duplicate key '{key}' (first on line {first + 1})", key_node.start_mark,
                    )
                seen[key] = key_node.start_mark.line
            self.flatten_mapping(node)
        return super().construct_mapping(node, deep=deep)


@dataclass(frozen=True)
class InvalidSource:
    """A source entry that is left out: its position in the file, its name (when it has one) and why."""

    index: int
    name: str | None
    errors: tuple[DangoConfigError, ...]

    @property
    def label(self) -> str:
        return f"source '{self.name}'" if self.name else f"sources[{self.index}]"


@dataclass(frozen=True)
class Project:
    """A loaded project: its root directory, the file it came from and the typed configuration."""

    root: Path
    sources_file: Path
    config: SourcesFile
    #: directories outside the project that its paths may name ([dango] allowed_data_roots)
    allowed_roots: tuple[Path, ...] = ()
    #: source entries left out because they are invalid (only when loaded with ``isolate_sources``)
    invalid_sources: tuple[InvalidSource, ...] = ()
    #: a Dango project's ``.dango/schedules.yml``
    dango_schedules: DangoSchedules = DangoSchedules()

    def _positions(self) -> list[int]:
        """The position in the file of each entry of ``config.sources``."""
        dropped = {x.index for x in self.invalid_sources}
        return [i for i in range(len(self.config.sources) + len(dropped)) if i not in dropped]

    def leave_out(self, problems: list[tuple[list, str]]) -> Project:
        """This project without the source entries that ``problems`` (location, message; positions in
        ``config.sources``) point into; a problem outside the entries raises with file, line and field."""
        if not problems:
            return self
        positions = self._positions()
        in_file = [(loc if loc[0] != "sources" else ["sources", positions[loc[1]], *loc[2:]], message)
                   for loc, message in problems]
        file_level, invalid = isolate(self.sources_file, in_file, _raw_sources(self.sources_file))
        if file_level:
            raise located_errors(self.sources_file, file_level)
        dropped = {i.index for i in invalid}
        kept = [s for s, position in zip(self.config.sources, positions) if position not in dropped]
        return replace(self, config=self.config.model_copy(update={"sources": kept}),
                       invalid_sources=self.invalid_sources + tuple(invalid))

    def schedule_of(self, source: Source) -> tuple[str | None, str]:
        """(cron or preset, time zone) of a source: its own, else the first sync schedule of Dango's
        ``.dango/schedules.yml`` that lists it, else ``defaults.schedule`` (UTC)."""
        if source.schedule:
            return source.schedule, "UTC"
        dango = self.dango_schedules.for_source(source.name)
        if dango:
            return dango[0].cron, dango[0].timezone
        return self.config.defaults.schedule, "UTC"

    @property
    def is_dango_layout(self) -> bool:
        """The configuration is a Dango project's ``.dango/sources.yml``."""
        return self.sources_file.parent.name == ".dango"

    @property
    def roots(self) -> tuple[Path, ...]:
        """Where the project may read and write: its directory, then the allowed data roots."""
        return (self.root.resolve(), *self.allowed_roots)

    def path(self, relative: str) -> Path:
        """A path from the file, relative to the project root."""
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else (self.root / candidate)

    @property
    def warehouse_path(self) -> Path:
        return self.path(self.config.warehouse.path).resolve()

    @property
    def lake_data_path(self) -> Path | None:
        """Where a DuckLake warehouse keeps its Parquet files (None for a DuckDB file)."""
        data_path = self.config.warehouse.data_path
        return self.path(data_path).resolve() if data_path else None

    @property
    def dbt_dir(self) -> Path:
        return self.path(self.config.dbt.project_dir).resolve()

    @property
    def enabled_sources(self) -> list[Source]:
        return [s for s in self.config.sources if s.enabled]

    def source(self, name: str) -> Source:
        for source in self.config.sources:
            if source.name == name:
                return source
        raise DangoConfigError(
            f"no source named '{name}'; sources: " + ", ".join(s.name for s in self.config.sources),
            file=str(self.sources_file),
        )


def find_sources_file(path: str | Path) -> Path:
    """``path`` is a project directory or a sources.yml file; return the sources file."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.exists():
        raise DangoConfigError(f"project path '{path}' does not exist")
    for name in SOURCES_FILE_CANDIDATES:
        if (path / name).is_file():
            return path / name
    raise DangoConfigError(
        f"no sources.yml in '{path}': expected one of " + ", ".join(SOURCES_FILE_CANDIDATES)
    )


def project_root_for(sources_file: Path) -> Path:
    parent = sources_file.resolve().parent
    return parent.parent if parent.name == ".dango" else parent


def load_project(path: str | Path, allowed_roots: tuple[Path, ...] | None = None, *,
                 isolate_sources: bool = False) -> Project:
    """Load and check a project. ``allowed_roots``: directories outside the project that its paths may
    name (``[dango] allowed_data_roots``); None reads them from the environment.

    ``isolate_sources``: an error inside one source entry leaves that entry out (listed in
    ``invalid_sources``) instead of failing the whole file; errors outside the entries still raise.
    """
    sources_file = find_sources_file(path)
    config, invalid = _load(sources_file, isolate_entries=isolate_sources)
    root = project_root_for(sources_file)
    used: list[str] = []
    if sources_file.parent.name == ".dango":  # Dango's project.yml may move the warehouse and the dbt project
        config, used = apply_platform_paths(config, read_platform_paths(root))
    try:
        extra = roots_from_environment() if allowed_roots is None else tuple(Path(r).resolve() for r in allowed_roots)
    except ValueError as exc:
        raise DangoConfigError(str(exc)) from None
    project = Project(root=root, sources_file=sources_file, config=config, allowed_roots=extra,
                      invalid_sources=tuple(invalid), dango_schedules=read_dango_schedules(root))
    problems = _path_problems(config, root, project.roots)
    from_project_yml = relocate(problems, used, root)
    if from_project_yml:  # the project-wide paths: nothing runs without them, isolated or not
        raise from_project_yml[0] if len(from_project_yml) == 1 else DangoConfigErrors(from_project_yml)
    if not isolate_sources:
        if problems:
            raise located_errors(sources_file, problems)
        return project
    return project.leave_out(problems)


def isolate(sources_file: Path, found: list[tuple[list, str]],
            raw_sources: list) -> tuple[list[tuple[list, str]], list[InvalidSource]]:
    """Split (location, message) problems into file-level ones and those of single source entries."""
    node = yaml.compose(sources_file.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    file_level: list[tuple[list, str]] = []
    grouped: dict[int, list[DangoConfigError]] = {}
    for loc, message in found:
        if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
            grouped.setdefault(loc[1], []).append(DangoConfigError(
                message, file=str(sources_file), line=_line_of(node, loc), field=_format_loc(loc)))
        else:
            file_level.append((loc, message))
    invalid = [InvalidSource(index, _entry_name(raw_sources, index), tuple(errors))
               for index, errors in sorted(grouped.items())]
    return file_level, invalid


def _entry_name(raw_sources: list, index: int) -> str | None:
    entry = raw_sources[index] if 0 <= index < len(raw_sources) else None
    name = entry.get("name") if isinstance(entry, dict) else None
    return name if isinstance(name, str) else None


def _raw_sources(sources_file: Path) -> list:
    data = yaml.load(sources_file.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506
    sources = data.get("sources") if isinstance(data, dict) else None
    return sources if isinstance(sources, list) else []


def load_sources_file(sources_file: Path) -> SourcesFile:
    """The typed configuration of a sources file; any error raises (file, line, field)."""
    return _load(sources_file, isolate_entries=False)[0]


def _load(sources_file: Path, *, isolate_entries: bool) -> tuple[SourcesFile, list[InvalidSource]]:
    file = str(sources_file)
    try:
        text = sources_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise DangoConfigError(
            f"file is not UTF-8 text ({exc.reason} at byte {exc.start})", file=file, line=line
        ) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem_line = mark.line + 1 if mark else None
        raise DangoConfigError(f"malformed YAML: {exc.problem or exc}", file=file, line=problem_line) from exc
    except yaml.YAMLError as exc:
        raise DangoConfigError(f"malformed YAML: {exc}", file=file) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DangoConfigError(
            f"the file must be a mapping with a 'sources:' list, not {type(data).__name__}", file=file, line=1
        )
    # top-level keys starting with "x-" hold YAML anchors to merge elsewhere (as in compose files)
    data = {key: value for key, value in data.items() if not str(key).startswith("x-")}
    listed = data.get("sources")
    raw_sources: list = listed if isinstance(listed, list) else []
    positions = list(range(len(raw_sources)))  # position in the file of each entry still in ``current``
    current: dict = data
    invalid: list[InvalidSource] = []
    problems = _secrets_in(data, [])
    while True:
        try:
            config = SourcesFile.model_validate(current) if not problems else None
        except ValidationError as exc:
            config = None
            problems = [(_error_loc(err, current), _to_config_error(err, node, file, current).message)
                        for err in exc.errors(include_url=False)]
        if config is not None:
            return config, invalid
        # locations of this round are positions in ``current``: map them back to the file
        in_file = [(["sources", positions[loc[1]], *loc[2:]] if len(loc) >= 2 and loc[0] == "sources"
                     and isinstance(loc[1], int) and loc[1] < len(positions) else loc, message)
                   for loc, message in problems]
        file_level, found = isolate(sources_file, in_file, raw_sources) if isolate_entries else (in_file, [])
        if file_level or not found:
            raise located_errors(sources_file, file_level or in_file)
        invalid += found
        dropped = {i.index for i in invalid}
        positions = [i for i in range(len(raw_sources)) if i not in dropped]
        current = {**data, "sources": [raw_sources[i] for i in positions]}
        problems = []


def _error_loc(err: Any, data: dict) -> list:
    loc = list(err["loc"])
    ctx_error = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_error, DuplicateSourceName):
        loc = ["sources", ctx_error.index, "name"]
    return _data_loc(loc, data, err["type"])


def _secrets_in(value: Any, loc: list) -> list[tuple[list, str]]:
    """(location, message) of every secret written into the file: a value where a ``*_env`` key wants a
    variable name, and credentials inside a URL anywhere. The messages never repeat the value."""
    found: list[tuple[list, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).endswith("_env") and item not in (None, ""):  # Dango writes '' for a secret not given
                problem = env_name_problem(item)
                if problem:
                    found.append(([*loc, key], problem))
                    continue
            found += _secrets_in(item, [*loc, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _secrets_in(item, [*loc, index])
    elif isinstance(value, str) and url_credentials(value):
        found.append((loc, URL_CREDENTIALS_MESSAGE))
    return found


def _to_config_error(err: Any, node: yaml.Node | None, file: str, data: dict) -> DangoConfigError:
    # pydantic adds the union member or validator name to a location; keep only real keys and indexes
    loc = _error_loc(err, data)
    return DangoConfigError(_message(err, loc, data), file=file, line=_line_of(node, loc),
                            field=_format_loc(loc) or None)


def _data_loc(loc: list, data: Any, kind: str) -> list:
    """The parts of a pydantic location that are keys or indexes of the file's data.

    pydantic inserts union members ('str', 'date', 'list[str]') and validator names
    ('function-after[...]') that are not in the file; a missing key is not either, but it is kept.
    """
    out: list = []
    current = data
    for position, part in enumerate(loc):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        elif not (kind == "missing" and position == len(loc) - 1):
            continue
        out.append(part)
    return out


def _message(err: dict[str, Any], loc: list, data: dict) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1], data)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        return (f"unknown key '{loc[-1]}'" + (f" (did you mean '{close[0]}'?)" if close else "")
                + (f"; allowed keys here: {', '.join(allowed)}" if allowed else ""))
    if kind == "missing":
        return f"required key '{loc[-1]}' is missing"
    message = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    if kind in ("literal_error", "enum"):
        message = f"{message} (got {err.get('input')!r})"
    return message


def _allowed_keys(parent_loc: list, data: dict) -> list[str]:
    """The keys the model accepts at ``parent_loc`` (for 'unknown key' messages)."""
    model_class: Any = SourcesFile
    for part in parent_loc:
        if isinstance(part, int):
            continue
        fields = {f.alias or name: f for name, f in model_class.model_fields.items()}
        field = fields.get(str(part))
        if field is None:
            return []
        model_class = _model_in(field.annotation)
        if model_class is None:
            return []
    return sorted(f.alias or name for name, f in model_class.model_fields.items())


def _model_in(annotation) -> Any:
    """The pydantic model inside an annotation such as ``X | None``, ``list[X | str]``, ``Annotated[X, ...]``."""
    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _format_loc(loc: list) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _line_of(node: yaml.Node | None, loc: list) -> int | None:
    """Line (1-based) of the deepest YAML node on the path ``loc``."""
    if node is None:
        return None
    best = node.start_mark.line + 1
    current = node
    for part in loc:
        child = None
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                if key_node.value == str(part):
                    child = value_node
                    best = key_node.start_mark.line + 1
                    break
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int) and part < len(current.value):
            child = current.value[part]
            best = child.start_mark.line + 1
        if child is None:
            break
        current = child
    return best


def _path_problems(config: SourcesFile, root: Path, roots: tuple[Path, ...]) -> list[tuple[list, str]]:
    """Every path the file names must resolve inside the project directory or an allowed data root, and
    no file pattern may climb out of its directory (each matched file is checked again when read).
    Returns (location, message) of each path that does not."""
    checks: list[tuple[list, str, str]] = [  # (location, what, path as written)
        (["warehouse", "path"], "warehouse.path", config.warehouse.path),
        (["dbt", "project_dir"], "dbt.project_dir", config.dbt.project_dir),
    ]
    if config.warehouse.data_path is not None:
        checks.append((["warehouse", "data_path"], "warehouse.data_path", config.warehouse.data_path))
    patterns: list[tuple[list, str]] = []
    for index, source in enumerate(config.sources):
        options = source.options
        if source.type == "filesystem":
            if options.url:
                continue
            key = "bucket_url" if options.bucket_url else "directory"
            checks.append((["sources", index, source.type, key], key, options.local_directory or ""))
            patterns.append((["sources", index, source.type, "file_glob" if options.file_glob else "file_pattern"],
                             options.pattern))
        elif source.is_file_source:
            checks.append((["sources", index, source.type, "directory"], "directory", options.directory))
            patterns.append((["sources", index, source.type, "file_pattern"], options.file_pattern))
    errors = []
    for loc, what, written in checks:
        candidate = Path(written).expanduser()
        target = candidate if candidate.is_absolute() else root / candidate
        if not inside(target, roots):
            errors.append((loc, outside_message(what, written, target, roots)))
    for loc, pattern in patterns:
        problem = pattern_problem(pattern)
        if problem:
            errors.append((loc, f"file pattern '{pattern}' {problem}"))
    return errors


def located_errors(sources_file: Path, found: list[tuple[list, str]]) -> DangoConfigError:
    """One error (or all of them together) for (location, message) pairs, with the line of each location."""
    node = yaml.compose(sources_file.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    errors = [DangoConfigError(message, file=str(sources_file), line=_line_of(node, loc), field=_format_loc(loc))
              for loc, message in found]
    return errors[0] if len(errors) == 1 else DangoConfigErrors(errors)
