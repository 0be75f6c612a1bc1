"""Write the shipped Kibana saved objects to stdout (or ``-o FILE``), ready for ``_import``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from airflow_provider_jumpcloud.kibana import SAVED_OBJECTS_FILE, saved_objects_bytes


def main(argv: list[str] | None = None) -> int:
    """Write the NDJSON; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_jumpcloud.kibana", description=__doc__)
    parser.add_argument("-o", "--output", type=Path, help=f"file to write (default: stdout), e.g. {SAVED_OBJECTS_FILE}")
    args = parser.parse_args(argv)
    data = saved_objects_bytes()
    if args.output:
        args.output.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
