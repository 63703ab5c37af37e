"""A headless Chromium driven through chromedriver's W3C WebDriver protocol (JSON over HTTP).

Only what the browser suite needs: sessions, navigation, elements, keys, clicks, frames, scripts and
screenshots. Chromium runs offline: no first-run, sync, component updates or background networking.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.apiserver import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference


class WebDriverError(AssertionError):
    """A WebDriver command failed (an assertion: the browser did not do what the test needed)."""


class Browser:
    def __init__(self, workdir: Path, *, width: int = 1400, height: int = 1000):
        self.workdir = workdir
        self.port = free_port()
        self.log = workdir / "chromedriver.log"
        self.driver = subprocess.Popen(
            [str(CHROMEDRIVER), f"--port={self.port}", f"--log-path={self.log}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(timeout=120)
        self.session: str | None = None
        try:
            self._wait_ready()
            args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    f"--window-size={width},{height}", f"--user-data-dir={workdir / 'profile'}", "--no-first-run",
                    "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-extensions", "--hide-scrollbars", "--lang=en-US"]
            value = self._command("POST", "/session", {"capabilities": {"alwaysMatch": {
                "browserName": "chrome", "goog:chromeOptions": {"binary": str(CHROMIUM), "args": args}}}})
            self.session = value["sessionId"]
        except BaseException:
            self.quit()
            raise

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.driver.poll() is not None:
                raise WebDriverError(f"chromedriver exited {self.driver.returncode}")
            try:
                if self.http.get(f"{self.base}/status").json()["value"]["ready"]:
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.3)
        raise WebDriverError(f"chromedriver not ready after {timeout:.0f}s")

    def _command(self, method: str, path: str, body: dict | None = None) -> Any:
        response = self.http.request(method, self.base + path, json=body if method == "POST" else None)
        payload = response.json()
        value = payload.get("value")
        if response.status_code != 200:
            message = value.get("message") if isinstance(value, dict) else value
            raise WebDriverError(f"{method} {path}: {response.status_code} {message}")
        return value

    def _session(self, method: str, path: str, body: dict | None = None) -> Any:
        return self._command(method, f"/session/{self.session}{path}", body if body is not None else {})

    # --- navigation and pages ---

    def open(self, url: str) -> None:
        self._session("POST", "/url", {"url": url})

    @property
    def url(self) -> str:
        return self._session("GET", "/url")

    def script(self, source: str, *args: Any) -> Any:
        return self._session("POST", "/execute/sync", {"script": source, "args": list(args)})

    def wait(self, condition, timeout: float = 60, what: str = "a condition") -> Any:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                value = condition()
                if value:
                    return value
            except WebDriverError as exc:
                last = exc
            time.sleep(0.3)
        raise WebDriverError(f"timed out after {timeout:.0f}s waiting for {what} (at {self.url}); last error: {last}")

    def resize(self, width: int, height: int) -> None:
        self._session("POST", "/window/rect", {"width": width, "height": height})

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self._session("GET", "/screenshot")))
        return path

    # --- elements ---

    def find_all(self, css: str) -> list[str]:
        found = self._session("POST", "/elements", {"using": "css selector", "value": css})
        return [e[ELEMENT] for e in found]

    def find(self, css: str, timeout: float = 60) -> str:
        return self.wait(lambda: (self.find_all(css) or [None])[0], timeout, f"element {css!r}")

    def text(self, element: str) -> str:
        return self._session("GET", f"/element/{element}/text")

    def attribute(self, element: str, name: str) -> str | None:
        return self._session("GET", f"/element/{element}/attribute/{name}")

    def type(self, element: str, text: str) -> None:
        self._session("POST", f"/element/{element}/value", {"text": text})

    def click(self, element: str) -> None:
        self._session("POST", f"/element/{element}/click")

    def frame(self, element: str | None) -> None:
        """Switch into the iframe ``element``, or back to the top document with ``None``."""
        self._session("POST", "/frame", {"id": None if element is None else {ELEMENT: element}})

    def quit(self) -> None:
        try:
            if self.session:
                self._command("DELETE", f"/session/{self.session}")
        except (WebDriverError, httpx.HTTPError):
            pass
        finally:
            self.session = None
            self.http.close()
            try:
                os.killpg(self.driver.pid, signal.SIGTERM)
                self.driver.wait(timeout=30)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.driver.pid, signal.SIGKILL)
                self.driver.wait(timeout=30)
