"""Source and table names map one-to-one onto what dlt stores: checked with dlt's own naming convention.

dlt normalizes dataset and table names (``a__b`` and ``a_b`` both become ``a_b``, a trailing ``_``
becomes ``x``): two sources would then share a raw schema and the second load would replace the
first one's rows, and a single such name would load under a name nothing else looks for.
"""

from __future__ import annotations

from dango_provider.config.loader import Project, located_errors
from dango_provider.config.model import CsvOptions
from dango_provider.core.naming import Naming


def naming_convention():
    """The naming convention of the provider's dlt pipelines (dlt's default, snake_case)."""
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    return NamingConvention()


def check_names(project: Project) -> None:
    """Raise DangoConfigError(s) naming file, line and field for every source or table name that dlt
    would store under another name, or under the name of another source."""
    found = name_problems(project)
    if found:
        raise located_errors(project.sources_file, found)


def name_problems(project: Project) -> list[tuple[list, str]]:
    """(location, message) of each source or table name that dlt would not store one-to-one."""
    naming = naming_convention()
    found: list[tuple[list, str]] = []
    stored: dict[str, str] = {}
    for index, source in enumerate(project.config.sources):
        schema = Naming.raw_schema(source.name)
        normalized = naming.normalize_identifier(schema)
        if normalized != schema:
            found.append((["sources", index, "name"],
                          f"source name '{source.name}' would be stored by dlt as schema '{normalized}' instead of "
                          f"'{schema}' (dlt rewrites repeated and trailing underscores); choose a name dlt keeps as "
                          "it is"))
        elif normalized in stored:
            other = stored[normalized]
            found.append((["sources", index, "name"],
                          f"source name '{source.name}' is stored by dlt in schema '{normalized}', which source "
                          f"'{other}' uses; give the sources names that stay distinct"))
        else:
            stored[normalized] = source.name
        table = source.options.table if isinstance(source.options, CsvOptions) else None
        if table and naming.normalize_table_identifier(table) != table:
            found.append((["sources", index, source.type, "table"],
                          f"table name '{table}' would be stored by dlt as "
                          f"'{naming.normalize_table_identifier(table)}'; choose a name dlt keeps as it is"))
    return found
