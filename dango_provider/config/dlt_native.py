"""Options of ``dlt_native`` sources: the user's own ``@dlt.source`` function, as in Dango.

``source_module`` is imported from the project's ``custom_sources/`` directory, the project directory, or
the installed packages (``dlt.sources.<module>`` as a last resort, as Dango does). Values of
``function_kwargs`` may name environment variables as ``${NAME}``; secrets are never written here.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class DltNativeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source_module: str | None = Field(
        default=None, description="Python module: custom_sources/<module>.py, a project module or a package; "
        "the source's name when omitted (custom_sources/<name>.py, as Dango discovers it).")
    source_function: str | None = Field(
        default=None, description="The @dlt.source (or @dlt.resource) function in that module; when omitted, the "
        "module's one @dlt.source function.")
    function_kwargs: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of the function.")
    # Dango's names for its own pipeline and dataset; here both are fixed by the source name
    pipeline_name: str | None = None
    dataset_name: str | None = None

    @field_validator("source_module")
    @classmethod
    def _module(cls, value: str | None) -> str | None:
        if value is not None and not _DOTTED.fullmatch(value):
            raise ValueError(
                f"'{value}' is not a Python module name; use a dotted name such as 'my_source' "
                "(custom_sources/my_source.py) or 'my_package.sources'"
            )
        return value

    @field_validator("source_function")
    @classmethod
    def _function(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.fullmatch(value):
            raise ValueError(f"'{value}' is not a Python function name")
        return value

    @field_validator("function_kwargs")
    @classmethod
    def _kwargs(cls, value: dict[str, Any]) -> dict[str, Any]:
        bad = [k for k in value if not _NAME.fullmatch(str(k))]
        if bad:
            raise ValueError(f"'{bad[0]}' is not a keyword argument name")
        return value

