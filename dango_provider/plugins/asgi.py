"""An ASGI app that builds the real one on its first request.

Every Airflow component loads the plugin, but only the API server serves its app; building the
FastAPI app (and importing FastAPI, Jinja2 and DuckDB) is left to the first request it serves.
"""

from __future__ import annotations

import importlib
import threading


class LazyASGIApp:
    """Calls ``factory`` (``"package.module:function"``) once, on the first request, and serves its app."""

    def __init__(self, factory: str):
        self.factory = factory
        self._app = None
        self._lock = threading.Lock()

    @property
    def app(self):
        if self._app is None:
            with self._lock:
                if self._app is None:
                    module, _, name = self.factory.partition(":")
                    self._app = getattr(importlib.import_module(module), name)()
        return self._app

    async def __call__(self, scope, receive, send) -> None:
        await self.app(scope, receive, send)

    def __repr__(self) -> str:
        return f"LazyASGIApp({self.factory!r})"
