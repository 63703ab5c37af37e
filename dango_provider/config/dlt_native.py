"""Options of ``dlt_native`` sources: the user's own ``@dlt.source`` function in the project."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DltNativeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source_module: str
    source_function: str
    function_kwargs: dict[str, Any] = Field(default_factory=dict)
