"""The browser console each company server serves at ``/console/``: static files only (HTML,
CSS, JavaScript and vendored libraries), drawing what the REST API answers. No build step."""

from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
