"""``dango source add | remove | enable | disable | list``."""

from __future__ import annotations

import argparse
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

from dango_provider.cli.common import (
    add_json_option,
    add_project_option,
    error_dicts,
    print_json,
    print_table,
    project_path,
    yes_no,
)
from dango_provider.exceptions import DangoConfigError, DangoConfigErrors, DangoError

_NULLS = {"", "~", "null", "Null", "NULL"}

ADD_EPILOG = """\
examples:
  dango source add csv --name orders --set csv.directory=data/orders --set primary_key=order_id
  dango source add csv --name refunds --set csv.directory=data/refunds --set 'csv.file_pattern=*.csv' \\
      --set 'schedule=0 6 * * *' --set enabled=false

KEY is a path in the source entry: dots reach into blocks (csv.directory, schema_drift.on_breaking).
Nothing is guessed: 'directory' alone is a key of the entry, not of its csv block. VALUE is read as
YAML: true, 12 and null are a boolean, a number and null, [a, b] is a list; quote it ('"12"') for a
string. The file is validated with the new source before it is written; when it would not be valid,
the errors are printed and the file is left unchanged."""


class Assignment:
    """One ``--set KEY=VALUE``."""

    def __init__(self, text: str):
        key, sep, raw = text.partition("=")
        path = tuple(part.strip() for part in key.split("."))
        if not sep or not all(path):
            raise argparse.ArgumentTypeError(
                f"'{text}' is not KEY=VALUE (KEY a name or a dotted path such as csv.directory)")
        self.text = text
        self.path = path
        self.value = parse_value(raw)


def parse_value(raw: str) -> Any:
    """A YAML scalar (or a flow list/mapping) as the loader would read it; other text stays a string."""
    import yaml

    from dango_provider.cli.yaml_edit import Flow, FlowList

    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw  # '*.csv', 'a: b: c': not YAML on their own, meant as text
    stripped = raw.strip()
    if isinstance(value, (dict, list)):
        if stripped[:1] == "{" and isinstance(value, dict):
            return _flow(value, Flow, FlowList)
        if stripped[:1] == "[" and isinstance(value, list):
            return _flow(value, Flow, FlowList)
        return raw  # 'a: b' or '- x' in block style: text
    if value is None and stripped not in _NULLS:
        return raw  # '# note' parses as an empty document
    return value


def _flow(value: Any, mapping: type, sequence: type) -> Any:
    if isinstance(value, dict):
        return mapping({k: _flow(v, mapping, sequence) for k, v in value.items()})
    if isinstance(value, list):
        return sequence(_flow(v, mapping, sequence) for v in value)
    return value


def build_entry(source_type: str, name: str, assignments: list[Assignment]) -> dict:
    """The new source entry: name, type, then each --set in the order given.

    Raises ValueError (a usage error) for conflicting or repeated keys and for name/type given with --set.
    """
    entry: dict[str, Any] = {"name": name, "type": source_type}
    created: set[int] = set()  # blocks made for dotted keys; a --set value is never merged into
    for assignment in assignments:
        if assignment.path[0] in ("name", "type"):
            raise ValueError(f"--set {assignment.text}: give the {assignment.path[0]} as "
                             + ("--name NAME" if assignment.path[0] == "name" else "the TYPE argument"))
        node = entry
        for depth, part in enumerate(assignment.path[:-1]):
            child = node.get(part)
            if child is None and part not in node:
                child = node[part] = {}
                created.add(id(child))
            elif id(child) not in created:
                raise ValueError(f"--set {assignment.text}: '{'.'.join(assignment.path[:depth + 1])}' "
                                 "is already set to a value")
            node = child
        last = assignment.path[-1]
        if last in node:
            raise ValueError(f"--set {assignment.text}: '{'.'.join(assignment.path)}' is set more than once")
        node[last] = assignment.value
    return entry


# --- dango source add -----------------------------------------------------------------------------


def _add(args: argparse.Namespace) -> int:
    from dango_provider.config.loader import find_sources_file
    from dango_provider.core.naming import Naming

    try:
        entry = build_entry(args.type, args.name, args.set or [])
    except ValueError as exc:
        args.parser.error(str(exc))  # exits 2
    sources_file = find_sources_file(project_path(args.project))
    try:
        edit = add_source(sources_file, entry)
    except DangoConfigError as exc:
        if args.json:
            print_json({"added": None, "file": str(sources_file), "errors": error_dicts(exc)})
            return 1
        errors = exc.errors if isinstance(exc, DangoConfigErrors) else [exc]
        where = getattr(exc, "entry_lines", None)
        print(f"error: source '{args.name}' not added; {sources_file} is unchanged. "
              + (f"With the new source at lines {where[0]}-{where[1]} it would not be valid:"
                 if where else "It is not valid:"),
              file=sys.stderr)
        for error in errors:
            print(error, file=sys.stderr)
        return 1
    if args.json:
        print_json({"added": args.name, "file": str(sources_file)})
    else:
        print(f"added source '{args.name}' to {sources_file} (lines {edit.first_line}-{edit.last_line}); "
              f"its DAG is {Naming.ingest_dag_id(args.name)}")
    return 0


def add_source(sources_file: Path, entry: dict):
    """Append ``entry`` to ``sources_file`` if the result is valid; else raise and leave the file alone."""
    def expected(old: dict) -> dict:
        return {**old, "sources": list(old.get("sources") or []) + [_flow(entry, dict, list)]}

    return edit_sources_file(sources_file, lambda text: _append(text, entry, str(sources_file)), expected,
                             what="add the source")


def _append(text: str, entry: dict, file: str):
    from dango_provider.cli.yaml_edit import append_source

    return append_source(text, entry, file=file)


def edit_sources_file(sources_file: Path, make_edit, expected, *, what: str):
    """Apply ``make_edit`` (text -> Edit, or None for nothing to do) to ``sources_file`` if the result is
    valid and, as the loader reads it, equals ``expected(old data)``; else raise and leave the file alone.

    The new text is written to a temporary file beside ``sources_file`` (same project root, same file
    system), loaded with the real loader, and then moved over ``sources_file`` in one rename.
    """
    import yaml

    from dango_provider.config.loader import load_project, load_sources_file
    from dango_provider.sources.names import check_names

    original = sources_file.read_bytes()
    try:
        text = original.decode("utf-8")
        edit = make_edit(text)
    except (UnicodeDecodeError, yaml.YAMLError, DangoConfigError) as exc:
        load_sources_file(sources_file)  # the loader's own error, with file and line
        if isinstance(exc, DangoConfigError):
            raise
        raise DangoConfigError(str(exc), file=str(sources_file)) from exc
    if edit is None:
        return None
    _check_rest_unchanged(text, edit.text, expected, sources_file, what)

    tmp = _temporary_copy(sources_file, edit.text)
    try:
        try:
            check_names(load_project(tmp))
        except DangoConfigError as exc:
            raise _in_original(exc, tmp, sources_file, edit) from None
        if sources_file.read_bytes() != original:
            raise DangoError(f"{sources_file} changed while this command ran; nothing written, run it again")
        target = sources_file.resolve() if sources_file.is_symlink() else sources_file
        if target.parent != tmp.parent:  # a symlinked sources.yml: replace the file it points to
            validated, tmp = tmp, _temporary_copy(target, edit.text)
            validated.unlink()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return edit


def _temporary_copy(beside: Path, text: str) -> Path:
    """``text`` in a new hidden file in the folder of ``beside``, with the permissions of ``beside``."""
    fd, name = tempfile.mkstemp(prefix=f".{beside.name}.", suffix=".tmp", dir=beside.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
        os.chmod(name, stat.S_IMODE(beside.stat().st_mode))
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _check_rest_unchanged(old_text: str, new_text: str, expected, sources_file: Path, what: str) -> None:
    """The edit must make the intended change and nothing else, as the loader reads the file."""
    import yaml

    from dango_provider.config.loader import load_sources_file

    old = yaml.safe_load(old_text) or {}
    if _canonical(yaml.safe_load(new_text)) != _canonical(expected(old)):
        load_sources_file(sources_file)  # an invalid file (a repeated 'sources' key): the loader's error
        raise DangoError(f"could not {what} in {sources_file} without changing the rest of the file; "
                         "edit it by hand")


def _canonical(value: Any) -> Any:
    """``value`` comparable with types kept (True is not 1) and mapping order ignored."""
    if isinstance(value, dict):
        return ("map", sorted((repr(k), _canonical(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("seq", [_canonical(v) for v in value])
    return (type(value).__name__, repr(value))


def _in_original(exc: DangoConfigError, tmp: Path, sources_file: Path, edit) -> DangoConfigError:
    """The loader's errors about the temporary file, told about ``sources_file`` and its lines."""
    errors = exc.errors if isinstance(exc, DangoConfigErrors) else [exc]
    mapped = [
        DangoConfigError(e.message, file=str(sources_file) if e.file == str(tmp) else e.file,
                         line=edit.original_line(e.line) if e.file == str(tmp) else e.line, field=e.field)
        for e in errors
    ]
    out = mapped[0] if len(mapped) == 1 else DangoConfigErrors(mapped)
    out.entry_lines = (edit.first_line, edit.last_line)
    return out


# --- dango source remove | enable | disable ------------------------------------------------------


def _named(data: dict, name: str) -> bool:
    return isinstance(data, dict) and data.get("name") == name


def _remove(args: argparse.Namespace) -> int:
    from dango_provider.cli.yaml_edit import remove_source
    from dango_provider.config.loader import find_sources_file
    from dango_provider.core.naming import Naming

    sources_file = find_sources_file(project_path(args.project))

    def expected(old: dict) -> dict:
        return {**old, "sources": [e for e in old.get("sources") or [] if not _named(e, args.name)]}

    edit = _edit_or_report(args, sources_file, lambda text: remove_source(text, args.name, file=str(sources_file)),
                           expected, what=f"remove source '{args.name}'")
    if edit is None:
        return 1
    if args.json:
        print_json({"removed": args.name, "file": str(sources_file)})
    else:
        print(f"removed source '{args.name}' from {sources_file} (was at line {edit.first_line}); its DAG "
              f"{Naming.ingest_dag_id(args.name)} goes at the next parse. Its tables stay in the warehouse "
              f"(schema {Naming.raw_schema(args.name)}) and its state under .dango/state stays: drop them by "
              "hand if they are no longer wanted")
    return 0


def _switch(args: argparse.Namespace) -> int:
    from dango_provider.cli.yaml_edit import set_enabled
    from dango_provider.config.loader import find_sources_file
    from dango_provider.core.naming import Naming

    enabled = args.source_command == "enable"
    sources_file = find_sources_file(project_path(args.project))

    def expected(old: dict) -> dict:
        return {**old, "sources": [{**e, "enabled": enabled} if _named(e, args.name) else e
                                   for e in old.get("sources") or []]}

    edit = _edit_or_report(args, sources_file,
                           lambda text: set_enabled(text, args.name, enabled, file=str(sources_file)),
                           expected, what=f"{args.source_command} source '{args.name}'", nothing=True)
    if edit is False:
        return 1
    word = "enabled" if enabled else "disabled"
    if args.json:
        print_json({word: args.name, "file": str(sources_file), "changed": edit is not None})
    elif edit is None:
        print(f"source '{args.name}' is already {word} in {sources_file}; nothing changed")
    else:
        dag = Naming.ingest_dag_id(args.name)
        print(f"{word} source '{args.name}' in {sources_file} (line {edit.first_line}); "
              + (f"its DAG {dag} appears at the next parse" if enabled else
                 f"its DAG {dag} goes at the next parse and the transform no longer waits for it; its "
                 "tables stay in the warehouse"))
    return 0


def _edit_or_report(args, sources_file: Path, make_edit, expected, *, what: str, nothing: bool = False):
    """The edit, or False (``nothing``) / None after printing why the file was left unchanged."""
    try:
        return edit_sources_file(sources_file, make_edit, expected, what=what)
    except DangoConfigError as exc:
        if args.json:
            print_json({"file": str(sources_file), "errors": error_dicts(exc)})
        else:
            errors = exc.errors if isinstance(exc, DangoConfigErrors) else [exc]
            print(f"error: could not {what}; {sources_file} is unchanged:", file=sys.stderr)
            for error in errors:
                print(error, file=sys.stderr)
        return False if nothing else None


# --- dango source list ----------------------------------------------------------------------------


def source_rows(project) -> list[dict]:
    from dango_provider.sources.pipeline import effective_write_disposition

    return [
        {
            "name": source.name,
            "type": source.type,
            "enabled": source.enabled,
            "schedule": _schedule_text(*project.schedule_of(source)),
            "write_disposition": effective_write_disposition(project, source),
            "directory": getattr(source.options, "directory", None),
        }
        for source in project.config.sources
    ]


def _schedule_text(cron: str | None, timezone: str) -> str | None:
    return cron if cron is None or timezone == "UTC" else f"{cron} ({timezone})"


def _list(args: argparse.Namespace) -> int:
    from dango_provider.config.loader import load_project

    project = load_project(project_path(args.project))
    rows = source_rows(project)
    if args.json:
        print_json(rows)
    elif not rows:
        print(f"no sources in {project.sources_file}")
    else:
        print_table(["name", "type", "enabled", "schedule", "write disposition", "directory"],
                    [[r["name"], r["type"], yes_no(r["enabled"]), r["schedule"], r["write_disposition"],
                      r["directory"]] for r in rows])
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from dango_provider.config.model import SUPPORTED_TYPES

    group = sub.add_parser("source", help="add, remove, enable, disable or list the sources of sources.yml",
                           description="Add, remove, enable or disable a source in sources.yml, or list them.")
    commands = group.add_subparsers(dest="source_command", required=True, metavar="COMMAND")

    add = commands.add_parser(
        "add", help="append a source to sources.yml (validated first; comments and layout kept)",
        description="Append a source entry to the project's sources.yml. The rest of the file is kept\n"
                    "byte for byte (comments, key order, indentation).",
        epilog=ADD_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("type", metavar="TYPE", help="source type: " + ", ".join(SUPPORTED_TYPES))
    add.add_argument("--name", required=True, help="source name (lower-case letters, digits, underscores)")
    add.add_argument("--set", action="append", type=Assignment, metavar="KEY=VALUE",
                     help="set a key of the new entry; repeatable (see below)")
    add_project_option(add)
    add.add_argument("--json", action="store_true",
                     help='print {"added": NAME, "file": PATH}; on errors {"added": null, "errors": [...]}')
    add.set_defaults(func=_add, parser=add, json_failure={"added": None})

    remove = commands.add_parser(
        "remove", help="remove a source from sources.yml (validated first; the rest of the file kept)",
        description="Remove a source entry (and the comment lines indented under it) from sources.yml. The "
                    "rest of the file is kept byte for byte; the result is validated before one atomic "
                    "rename. The source's warehouse tables and state are not touched.")
    remove.add_argument("name", metavar="NAME", help="the source to remove")
    add_project_option(remove)
    add_json_option(remove)
    remove.set_defaults(func=_remove, json_failure={"removed": None})
    for verb, text in (("enable", "set enabled: true"), ("disable", "set enabled: false")):
        switch = commands.add_parser(
            verb, help=f"{text} on a source (the rest of the file kept)",
            description=f"{text.capitalize()} on one source entry of sources.yml, in place: the rest of the "
                        "file is kept byte for byte and the result is validated before one atomic rename. "
                        "A disabled source has no DAG and the transform does not wait for it.")
        switch.add_argument("name", metavar="NAME", help="the source")
        add_project_option(switch)
        add_json_option(switch)
        switch.set_defaults(func=_switch)

    listing = commands.add_parser(
        "list", help="the sources: name, type, enabled, schedule, write disposition, directory",
        description="List the sources of sources.yml. Schedule and write disposition are the effective "
                    "ones (the source's own, else the defaults block, else derived); '-' means none.")
    add_project_option(listing)
    add_json_option(listing)
    listing.set_defaults(func=_list)
