"""The panel's static files: every stylesheet parses as whole rules (an unclosed block swallows every rule after it,
as a merge once did), and every vendored library comes with its licence."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "web" / "static"


def test_every_stylesheet_closes_each_block_it_opens() -> None:
    for sheet in STATIC.rglob("*.css"):
        text = re.sub(r"/\*.*?\*/", "", sheet.read_text(encoding="utf-8"), flags=re.S)
        depth = 0
        for number, line in enumerate(text.splitlines(), start=1):
            depth += line.count("{") - line.count("}")
            assert depth >= 0, f"{sheet.name}:{number} closes a block it never opened"
        assert depth == 0, f"{sheet.name}: {depth} block(s) never closed"


def test_vendored_libraries_carry_their_licences() -> None:
    vendored = [d for d in (STATIC / "vendor").iterdir() if d.is_dir()]
    assert {d.name for d in vendored} >= {"htmx", "uplot"}
    for library in vendored:
        licence = library / "LICENSE"
        assert licence.exists() and "Permission" in licence.read_text(), library.name  # 0BSD (htmx), MIT (uPlot)
