"""Check the built documentation site as a reader meets it: every internal link lands, the facet schema
is published where the OpenLineage events say, pages render in a real browser, and search finds things.

Usage: python scripts/check_docs.py docs/_build/html   (``make docs`` runs it after the build)

Sphinx (``-W``) has already checked every reference between pages; this reads the HTML it wrote. The
browser is headless Chromium (``CHROMIUM`` names another binary): screenshots of the getting-started
page and a how-to go to ``<site>/../screenshots/``, and a search must list the pages that answer it.
"""

from __future__ import annotations

import functools
import html
import html.parser
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = {"getting-started": "getting-started.html", "howto-workflows-and-runs": "howto/workflows-and-runs.html"}
# A search and a page it must list: the words of an argument, and of a concept.
SEARCHES = {"retry_with_cache": "howto/caches-and-reruns.html", "idempotency": "concepts/retries-and-idempotency.html"}
# What the pages must say once rendered (the browser's DOM, not the source): the included DAG code is there.
RENDERED = {"getting-started.html": "OmicsUploadReadSetOperator.partial", "howto/batches.html": "inlineSettings"}


class Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"] or "")
        for name in ("href", "src"):
            if values.get(name):
                self.targets.append(values[name] or "")


def broken_links(site: Path) -> list[str]:
    parsed: dict[Path, Links] = {}

    def read(page: Path) -> Links:
        if page not in parsed:
            parsed[page] = Links()
            parsed[page].feed(page.read_text(encoding="utf-8"))
        return parsed[page]

    broken = []
    for page in sorted(site.rglob("*.html")):
        if "_modules" in page.parts:  # viewcode's source pages link into Sphinx's own machinery
            continue
        for target in read(page).targets:
            parts = urlsplit(target)
            if parts.scheme or target.startswith(("mailto:", "//")):
                continue  # external: CI has no network, and these are not ours to keep
            path = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if path.is_dir():
                path = path / "index.html"
            if not path.exists():
                broken.append(f"{page.relative_to(site)}: {target} (no such file)")
            elif parts.fragment and path.suffix == ".html" and parts.fragment not in read(path).ids:
                broken.append(f"{page.relative_to(site)}: {target} (no such anchor)")
    return broken


def chromium() -> str:
    found = os.environ.get("CHROMIUM") or next(
        (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None
    )
    if not found:
        sys.exit("check_docs: no headless browser: install Chromium (make docs does on Debian) or set CHROMIUM")
    return found


def browse(browser: str, url: str, *arguments: str) -> str:
    """Headless Chromium on one page, as the machine's closed network needs it started."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=10000",  # let the search script run to its end
                *arguments,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    if done.returncode != 0:
        raise RuntimeError(f"{browser} failed on {url}: {done.stderr[-2000:]}")
    return done.stdout


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def text_of(dom: str) -> str:
    """What a reader sees: the DOM without its tags (highlighted code is split in spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", dom))


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def main(site: Path) -> int:
    problems = broken_links(site)
    schema = site / "_static/schemas/OmicsRunFacet.json"
    shipped = ROOT / "airflow_provider_omics/schemas/OmicsRunFacet.json"
    if not schema.exists() or schema.read_bytes() != shipped.read_bytes():
        problems.append(f"{schema.relative_to(site)}: the facet schema is not published as the package ships it")

    browser = chromium()
    server, base = serve(site)
    try:
        shots = site.parent / "screenshots"
        shots.mkdir(exist_ok=True)
        for name, page in SCREENSHOTS.items():
            picture = shots / f"{name}.png"
            picture.unlink(missing_ok=True)
            browse(browser, f"{base}/{page}", f"--screenshot={picture}", "--window-size=1280,1600")
            size = picture.stat().st_size if picture.exists() else 0
            if size < 20_000:  # a blank or unstyled page compresses to a few kB
                problems.append(f"{page}: the screenshot is {size} bytes, not a rendered page")
            print(f"screenshot of {page}: {picture} ({size // 1024} KiB)")
        for page, text in RENDERED.items():
            if text not in text_of(browse(browser, f"{base}/{page}", "--dump-dom")):
                problems.append(f"{page}: the rendered page does not show {text!r}")
        for words, page in SEARCHES.items():
            dom = browse(browser, f"{base}/search.html?q={words}", "--dump-dom")
            if f'href="{page}' not in dom and f'href="./{page}' not in dom:
                problems.append(f"search for {words!r} does not list {page}")
            else:
                print(f"search for {words!r} lists {page}")
    finally:
        server.shutdown()

    for problem in problems:
        print(f"check_docs: {problem}", file=sys.stderr)
    if not problems:
        print(f"check_docs: {site}: links, facet schema, rendering and search are fine")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "_build" / "html")))
