"""Regenerate ``airflow_provider_jumpcloud/spec/fields.json`` from the exported-fields table.

The table (``spec/exported_fields.md``) is a copy of the exported-fields section of Elastic's
``jumpcloud`` integration documentation (package 1.22.0). Run: ``python scripts/build_field_spec.py``
(``--check`` only verifies that the file is up to date).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SPEC_DIR = Path(__file__).resolve().parents[1] / "airflow_provider_jumpcloud" / "spec"


def parse_table(text: str) -> list[dict[str, str]]:
    """Parse the markdown table rows ``| name | description | type |`` into field records."""
    fields = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("|") or line.startswith("|---") or line.startswith("| Field "):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) != 3:
            raise ValueError(f"unexpected table row: {line!r}")
        name, description, type_ = cells
        fields.append({"name": name, "type": type_, "description": description})
    return fields


def render(text: str) -> str:
    """Return the exact text of ``fields.json`` for the exported-fields table ``text``."""
    out = {
        "source": "elastic/integrations packages/jumpcloud 1.22.0, docs/README.md exported fields",
        "data_stream": "jumpcloud.events",
        "fields": parse_table(text),
    }
    return json.dumps(out, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    rendered = render((SPEC_DIR / "exported_fields.md").read_text(encoding="utf-8"))
    target = SPEC_DIR / "fields.json"
    if "--check" in args:
        if target.read_text(encoding="utf-8") != rendered:
            print(f"{target} is out of date; run python scripts/build_field_spec.py")
            return 1
        print(f"{target} is up to date")
        return 0
    target.write_text(rendered, encoding="utf-8")
    print(f"wrote {len(json.loads(rendered)['fields'])} fields to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
