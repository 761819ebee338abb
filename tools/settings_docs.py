"""Write README's settings tables from the declarations in uws_pyramid/settings.py.

Usage: python tools/settings_docs.py [--check]   (``make docs``; --check: exit 1 if stale)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from uws_pyramid.settings import readme_tables

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = re.compile(
    r"(<!-- settings table (?P<name>\w+): [^\n]*-->\n)(?P<table>.*?)(<!-- /settings table -->)",
    re.S,
)


def regenerated(text: str) -> str:
    """``text`` with every marked settings table replaced by its generated version."""
    tables = readme_tables()
    found = {m["name"] for m in SECTION.finditer(text)}
    if found != set(tables):
        raise SystemExit(f"README's settings markers {sorted(found)} != {sorted(tables)}")
    return SECTION.sub(lambda m: m[1] + tables[m["name"]] + m[4], text)


def main() -> int:
    text = README.read_text()
    new = regenerated(text)
    if "--check" in sys.argv[1:]:
        if new != text:
            print("README.md's settings tables are stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
