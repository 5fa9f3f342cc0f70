"""The .docx templates carry the styles they use and no more (templates/build_templates.py).

python-docx's blank document holds 165 style definitions in 350 KB plus a 440 KB copy for
Word 2010 (stylesWithEffects); every render parsed, serialised and compressed them again.
What a template references must still be defined, or Word falls back to Normal.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
REFERENCE = re.compile(r'<w:(?:pStyle|rStyle|tblStyle) w:val="([^"]+)"')
DEFINED = re.compile(r'w:styleId="([^"]+)"')


@pytest.mark.parametrize("name", sorted(p.name for p in TEMPLATES.glob("*.docx")))
def test_a_template_defines_every_style_it_uses_and_carries_no_unused_ones(name: str) -> None:
    with zipfile.ZipFile(TEMPLATES / name) as package:
        names = package.namelist()
        styles = package.read("word/styles.xml").decode()
        parts = [
            package.read(n).decode()
            for n in names
            if n.startswith("word/") and n.endswith(".xml") and n != "word/styles.xml"
        ]
    assert "word/stylesWithEffects.xml" not in names
    defined = set(DEFINED.findall(styles))
    used = {ref for part in parts for ref in REFERENCE.findall(part)}
    assert used, "the template references no style at all"
    assert used <= defined, f"{name}: styles used but not defined: {sorted(used - defined)}"
    assert len(defined) <= 30, f"{name}: {len(defined)} styles, most of them unused"
    assert "<w:latentStyles" in styles  # Word still offers its built-in styles
