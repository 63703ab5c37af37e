"""Edit the ``sources:`` list of a sources file in place (append an entry, remove one, switch one on or
off), leaving every other byte as it was.

A full ruamel.yaml round trip (load, append, dump) re-emits the whole document: it writes ``null`` as
an empty value, applies one indentation to every block and re-spaces flow mappings. So the file is
edited in place instead: PyYAML (the loader's own parser) gives the position of the list and of the
end of its last entry, ruamel.yaml renders the new entry in the list's indentation, and the entry is
spliced in as text. The caller validates the result with the real loader before writing it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import yaml

from dango_provider.exceptions import DangoConfigError

LINE_BREAKS = "\r\n\x85\u2028\u2029"  # the characters PyYAML counts as line breaks
DEFAULT_INDENT = 2


@dataclass(frozen=True)
class Edit:
    """The file text with the new entry, and where the entry is in it."""

    text: str
    first_line: int  # 1-based line of the entry's first line in ``text``
    lines_added: int  # lines of ``text`` that are new (the entry, and a ``sources:`` key when one was added)
    line_delta: int  # lines of ``text`` minus lines of the original

    @property
    def last_line(self) -> int:
        return self.first_line + max(self.lines_added, 1) - 1

    def original_line(self, line: int | None) -> int | None:
        """Line of the original file for a line of ``text``; a line of the entry keeps its number."""
        if line is None or line < self.first_line + self.lines_added:
            return line
        return line - self.line_delta


# --- rendering the entry ------------------------------------------------------------------------


class Flow(dict):
    """A mapping the user typed in flow style (``{a: 1}``); rendered in flow style."""


class FlowList(list):
    """A list the user typed in flow style (``[a, b]``); rendered in flow style."""


def _plain_is_safe(text: str) -> bool:
    """True when the loader (PyYAML, YAML 1.1) reads ``text`` written plain back as the same string."""
    try:
        return yaml.safe_load(text) == text
    except yaml.YAMLError:
        return False


def _to_ruamel(value: Any, *, flow: bool = False) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    if isinstance(value, dict):
        flow = flow or isinstance(value, Flow)
        out = CommentedMap()
        for key, item in value.items():
            out[_to_ruamel(key)] = _to_ruamel(item, flow=flow)
        if flow:
            out.fa.set_flow_style()
        else:
            out.fa.set_block_style()
        return out
    if isinstance(value, list):
        flow = flow or isinstance(value, FlowList)
        seq = CommentedSeq(_to_ruamel(item, flow=flow) for item in value)
        if flow:
            seq.fa.set_flow_style()
        return seq
    if isinstance(value, str) and not _plain_is_safe(value):
        # ruamel.yaml resolves plain scalars as YAML 1.2, where 'yes', 'on', '1:30' or '0o7' are strings;
        # the loader (YAML 1.1) would read them as booleans or numbers, so they are quoted
        return DoubleQuotedScalarString(value) if any(c in value for c in LINE_BREAKS) else \
            SingleQuotedScalarString(value)
    return value


def _dumper(mapping_indent: int):
    from ruamel.yaml import YAML

    dumper = YAML(typ="rt")
    dumper.indent(mapping=mapping_indent, sequence=mapping_indent + 2, offset=mapping_indent)
    dumper.width = 1 << 16  # never fold a long value over lines
    dumper.representer.add_representer(
        type(None), lambda representer, _: representer.represent_scalar("tag:yaml.org,2002:null", "null"))
    return dumper


def render_block(entry: dict, mapping_indent: int) -> list[str]:
    """The entry as block-style lines (no line breaks), relative to the entry's own column."""
    buffer = io.StringIO()
    _dumper(mapping_indent).dump(_to_ruamel(entry), buffer)
    return buffer.getvalue().splitlines()


def render_flow(entry: dict) -> str:
    """The entry as one flow mapping: ``{name: x, type: csv, csv: {directory: d}}``."""
    buffer = io.StringIO()
    _dumper(DEFAULT_INDENT).dump(_to_ruamel(Flow(entry)), buffer)
    return buffer.getvalue().strip()


# --- positions in the original text ---------------------------------------------------------------


def _line_end(text: str, index: int) -> int:
    """Index of the line break ending the line that contains ``index`` (len(text) on the last line)."""
    while index < len(text) and text[index] not in LINE_BREAKS:
        index += 1
    return index


def _next_line_start(text: str, index: int) -> int:
    """Index just after the line break that ends the line containing ``index``."""
    end = _line_end(text, index)
    if end >= len(text):
        return len(text)
    return end + 2 if text.startswith("\r\n", end) else end + 1


def _count_lines(text: str) -> int:
    return sum(1 for i, c in enumerate(text) if c in LINE_BREAKS and not (c == "\r" and text.startswith("\n", i + 1)))


def _content_end(node: yaml.Node) -> int:
    """Index just after the last character of the node's own text (not of comments that follow it)."""
    if isinstance(node, yaml.ScalarNode) or node.flow_style is True:
        return node.end_mark.index
    children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
    return max((_content_end(child) for child in children), default=node.end_mark.index)


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _mapping_indent(root: yaml.MappingNode, sequence: yaml.SequenceNode | None) -> int:
    """The indentation step of nested block mappings: from the list's entries, else from the top level."""
    for item in (sequence.value if sequence is not None else []):
        if isinstance(item, yaml.MappingNode) and item.flow_style is not True:
            for _, value in item.value:
                if isinstance(value, yaml.MappingNode) and value.flow_style is not True:
                    step = value.start_mark.column - item.start_mark.column
                    if step > 0:
                        return step
    for _, value in root.value:
        if isinstance(value, yaml.MappingNode) and value.flow_style is not True:
            step = value.start_mark.column - root.start_mark.column
            if step > 0:
                return step
    return DEFAULT_INDENT


# --- the edit -----------------------------------------------------------------------------------


def append_source(text: str, entry: dict, *, file: str) -> Edit:
    """``text`` with ``entry`` appended to its ``sources:`` list.

    Raises yaml.YAMLError when ``text`` is not YAML, and DangoConfigError when it has no place for the
    entry (the top level is not a block mapping, or ``sources`` is neither a list nor empty).
    """
    newline = "\r\n" if "\r\n" in text else "\n"
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:  # empty, or only comments
        return _add_sources_key(text, entry, newline, key_column=0, indent=DEFAULT_INDENT)
    if not isinstance(root, yaml.MappingNode) or root.flow_style is True:
        raise DangoConfigError("cannot add a source: the top level of the file is not a block mapping "
                               "with a 'sources:' list", file=file, line=root.start_mark.line + 1)
    found = [(key, value) for key, value in root.value if isinstance(key, yaml.ScalarNode) and key.value == "sources"]
    if not found:
        return _add_sources_key(text, entry, newline, key_column=root.start_mark.column,
                                indent=_mapping_indent(root, None))
    key, value = found[0]
    if _is_null(value) or (isinstance(value, yaml.SequenceNode) and not value.value):
        return _replace_empty(text, entry, newline, key, value, indent=_mapping_indent(root, None))
    if isinstance(value, yaml.SequenceNode) and value.flow_style is True:
        return _append_flow(text, entry, value)
    if isinstance(value, yaml.SequenceNode):
        return _append_block(text, entry, newline, value, indent=_mapping_indent(root, value))
    raise DangoConfigError("cannot add a source: 'sources' is not a list", file=file,
                           line=value.start_mark.line + 1, field="sources")


def _entry_lines(entry: dict, dash_column: int, content_column: int, indent: int, newline: str) -> str:
    lines = render_block(entry, indent)
    first = " " * dash_column + "-" + " " * (content_column - dash_column - 1) + lines[0]
    rest = [(" " * content_column + line) if line.strip() else line for line in lines[1:]]
    return "".join(line + newline for line in [first, *rest])


def _insert(text: str, index: int, insertion: str, newline: str, *, removed_lines: int = 0) -> Edit:
    if index == len(text) and text and text[-1] not in LINE_BREAKS:
        text += newline
        index += len(newline)
    new_text = text[:index] + insertion + text[index:]
    added = _count_lines(insertion)
    return Edit(text=new_text, first_line=_count_lines(text[:index]) + 1, lines_added=added,
                line_delta=added - removed_lines)


def _add_sources_key(text: str, entry: dict, newline: str, *, key_column: int, indent: int) -> Edit:
    dash = key_column + indent
    block = " " * key_column + "sources:" + newline + _entry_lines(entry, dash, dash + 2, indent, newline)
    return _insert(text, len(text), block, newline)


def _replace_empty(text: str, entry: dict, newline: str, key: yaml.Node, value: yaml.Node, *, indent: int) -> Edit:
    """``sources:``, ``sources: null`` or ``sources: []``: the value becomes a block list."""
    start, end = value.start_mark.index, value.end_mark.index
    removed_lines = 0
    if end > start:  # drop 'null' or '[]' and the blanks before it; a comment after it stays
        removed_lines = _count_lines(text[start:end])
        head = text[:start].rstrip(" \t")
        text = head + text[end:]
        start = len(head)
    dash = key.start_mark.column + indent
    at = _next_line_start(text, start)
    return _insert(text, at, _entry_lines(entry, dash, dash + 2, indent, newline), newline,
                   removed_lines=removed_lines)


def _append_flow(text: str, entry: dict, sequence: yaml.SequenceNode) -> Edit:
    """``sources: [{...}, {...}]``: one more flow mapping after the last one."""
    at = sequence.value[-1].end_mark.index
    insertion = ", " + render_flow(entry)
    return Edit(text=text[:at] + insertion + text[at:], first_line=sequence.value[-1].end_mark.line + 1,
                lines_added=0, line_delta=0)


def _append_block(text: str, entry: dict, newline: str, sequence: yaml.SequenceNode, *, indent: int) -> Edit:
    dash = sequence.start_mark.column
    first = sequence.value[0]
    content = first.start_mark.column if first.start_mark.line == sequence.start_mark.line and \
        first.start_mark.column > dash else dash + 2
    at = _content_end(sequence.value[-1])
    if not (at > 0 and text[at - 1] in LINE_BREAKS):
        at = _next_line_start(text, at)
    # comment lines indented deeper than the dashes belong to the last entry: keep them with it
    scan = at
    while scan < len(text):
        line = text[scan:_line_end(text, scan)]
        stripped = line.lstrip(" \t")
        if stripped and not (stripped.startswith("#") and len(line) - len(stripped) > dash):
            break
        scan = _next_line_start(text, scan)
        if stripped:
            at = scan
    return _insert(text, at, _entry_lines(entry, dash, content, indent, newline), newline)


# --- removing an entry, switching it on or off ------------------------------------------------------


def _entry_node(text: str, name: str, *, file: str) -> tuple[yaml.Node, yaml.SequenceNode, int]:
    """The ``sources`` key, its list and the index of the entry named ``name`` in it."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    found = [(key, value) for key, value in (root.value if isinstance(root, yaml.MappingNode) else [])
             if isinstance(key, yaml.ScalarNode) and key.value == "sources"]
    if not found or not isinstance(found[0][1], yaml.SequenceNode):
        raise DangoConfigError(f"no source named '{name}': the file has no 'sources:' list", file=file)
    key, sequence = found[0]
    for index, item in enumerate(sequence.value):
        if isinstance(item, yaml.MappingNode) and any(
                isinstance(k, yaml.ScalarNode) and k.value == "name" and isinstance(v, yaml.ScalarNode)
                and v.value == name for k, v in item.value):
            return key, sequence, index
    names = [v.value for item in sequence.value if isinstance(item, yaml.MappingNode)
             for k, v in item.value if isinstance(k, yaml.ScalarNode) and k.value == "name"
             and isinstance(v, yaml.ScalarNode)]
    raise DangoConfigError(f"no source named '{name}' (sources: {', '.join(names) or 'none'})", file=file,
                           field="sources")


def _line_start(text: str, index: int) -> int:
    while index > 0 and text[index - 1] not in LINE_BREAKS:
        index -= 1
    return index


def remove_source(text: str, name: str, *, file: str) -> Edit:
    """``text`` without the entry named ``name`` (and the comment lines indented under it).

    A block entry goes from its dash's line to where the next entry (or anything less indented) starts;
    a flow entry goes with the comma that joins it to its neighbour. Removing the last entry leaves an
    empty list (``sources: []``) so the file keeps its shape.
    """
    key, sequence, index = _entry_node(text, name, file=file)
    entry = sequence.value[index]
    first_line = entry.start_mark.line + 1
    if sequence.flow_style is True:
        if len(sequence.value) == 1:
            start, end = sequence.start_mark.index, sequence.end_mark.index
            return Edit(text=text[:start] + "[]" + text[end:], first_line=first_line, lines_added=0,
                        line_delta=-_count_lines(text[start:end]))
        if index + 1 < len(sequence.value):
            start, end = entry.start_mark.index, sequence.value[index + 1].start_mark.index
        else:
            start, end = _content_end(sequence.value[index - 1]), _content_end(entry)
        return Edit(text=text[:start] + text[end:], first_line=first_line, lines_added=0,
                    line_delta=-_count_lines(text[start:end]))
    dash = sequence.start_mark.column
    start = _line_start(text, entry.start_mark.index)
    if text[start:entry.start_mark.index].strip(" \t") not in ("-", ""):
        raise DangoConfigError(f"cannot remove source '{name}' in place: its entry shares a line with other "
                               "text; remove it by hand", file=file, line=first_line)
    end = _next_line_start(text, _content_end(entry) - 1) if _content_end(entry) > start else len(text)
    scan = end
    while scan < len(text):  # comment lines indented deeper than the dashes belong to the entry
        line = text[scan:_line_end(text, scan)]
        stripped = line.lstrip(" \t")
        if stripped and not (stripped.startswith("#") and len(line) - len(stripped) > dash):
            break
        scan = _next_line_start(text, scan)
        if stripped:
            end = scan
    removed = text[start:end]
    if len(sequence.value) == 1:  # the only entry: 'sources:' keeps an empty list rather than becoming null
        colon = text.index(":", key.end_mark.index)
        return Edit(text=text[:colon + 1] + " []" + text[colon + 1:start] + text[end:], first_line=first_line,
                    lines_added=0, line_delta=-_count_lines(removed))
    return Edit(text=text[:start] + text[end:], first_line=first_line, lines_added=0,
                line_delta=-_count_lines(removed))


def set_enabled(text: str, name: str, enabled: bool, *, file: str) -> Edit | None:
    """``text`` with the entry named ``name`` switched on or off; None when it already is.

    An existing ``enabled:`` value is replaced in place; otherwise ``enabled: false`` is added after the
    entry's ``name:`` (a source is enabled unless it says otherwise, so enabling removes nothing).
    """
    _, sequence, index = _entry_node(text, name, file=file)
    entry = sequence.value[index]
    word = "true" if enabled else "false"
    for key, value in entry.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "enabled":
            current = yaml.safe_load(text[value.start_mark.index:value.end_mark.index] or "null")
            if current is enabled:
                return None
            start, end = value.start_mark.index, value.end_mark.index
            if end <= start:  # 'enabled:' with no value
                start = end = key.end_mark.index + 1 if text[key.end_mark.index:key.end_mark.index + 1] == ":" \
                    else key.end_mark.index
                word = " " + word
            return Edit(text=text[:start] + word + text[end:], first_line=value.start_mark.line + 1,
                        lines_added=0, line_delta=0)
    if enabled:
        return None
    name_key, name_value = next((k, v) for k, v in entry.value if isinstance(k, yaml.ScalarNode) and k.value == "name")
    if entry.flow_style is True:
        at = name_value.end_mark.index
        return Edit(text=text[:at] + ", enabled: false" + text[at:], first_line=name_key.start_mark.line + 1,
                    lines_added=0, line_delta=0)
    if name_value.end_mark.line != name_key.start_mark.line:
        raise DangoConfigError(f"cannot disable source '{name}' in place: add 'enabled: false' to it by hand",
                               file=file, line=name_key.start_mark.line + 1)
    newline = "\r\n" if "\r\n" in text else "\n"
    at = _next_line_start(text, name_value.end_mark.index)
    insertion = " " * entry.start_mark.column + "enabled: false" + newline
    if at == len(text) and text and text[-1] not in LINE_BREAKS:
        insertion = newline + insertion.rstrip("\r\n")
    return Edit(text=text[:at] + insertion + text[at:], first_line=name_key.start_mark.line + 2,
                lines_added=1, line_delta=1)
