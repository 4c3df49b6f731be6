"""Copy the console's third-party browser libraries from node_modules (pinned by
package-lock.json) into console/static/vendor, with their licences. ``make vendor`` runs it
after an upgrade; a test fails when the copies differ from what npm installed."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "console" / "static" / "vendor"

#: vendored file -> where npm puts it
FILES = {
    "echarts.min.js": "node_modules/echarts/dist/echarts.min.js",
    "echarts.LICENSE.txt": "node_modules/echarts/LICENSE",
    "echarts.NOTICE.txt": "node_modules/echarts/NOTICE",
    "echarts.LICENSE-d3.txt": "node_modules/echarts/licenses/LICENSE-d3",
    # bundled into echarts.min.js
    "zrender.LICENSE.txt": "node_modules/zrender/LICENSE",
    "tslib.LICENSE.txt": "node_modules/tslib/LICENSE.txt",
}


def main() -> int:
    VENDOR.mkdir(parents=True, exist_ok=True)
    for name, source in FILES.items():
        path = ROOT / source
        if not path.exists():
            print(f"error: {source} is missing; run 'make node' first", file=sys.stderr)
            return 1
        shutil.copyfile(path, VENDOR / name)
        print(f"{source} -> console/static/vendor/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
