"""Regenerate ``tgd/data/communes.csv`` from Etalab's ``@etalab/decoupage-administratif``.

This script owns the refresh of the official commune list used to validate
terminal references (DESIGN.md §3). It runs ``npm pack`` of the package into a
temporary directory (or reads a ``communes.json`` given with ``--json``), keeps
the current communes (``type == "commune-actuelle"``, which includes Paris,
Lyon and Marseille but not their arrondissements municipaux) of the
départements listed in ``tgd.domain.geography.DEPARTEMENTS``, and writes
``code;nom;departement`` rows sorted by code, UTF-8, ``\\n`` line endings, so
the output only changes when the data does.

Usage::

    python scripts/refresh_communes.py [--version 6.0.0] [--json PATH] [--output PATH]
"""

from __future__ import annotations

import argparse
import collections
import csv
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tgd.domain.geography import DEPARTEMENTS  # noqa: E402

PACKAGE = "@etalab/decoupage-administratif"
DEFAULT_VERSION = "6.0.0"
DEFAULT_OUTPUT = REPO_ROOT / "tgd" / "data" / "communes.csv"
MEMBER = "package/data/communes.json"
# Paris, Lyon and Marseille must be present as communes (their courts sit there).
REQUIRED_CODES = ("75056", "69123", "13055")


def fetch_communes_json(version: str) -> bytes:
    """Download the npm tarball of the package and return its data/communes.json."""
    with tempfile.TemporaryDirectory(prefix="tgd-communes-") as tmp:
        result = subprocess.run(
            ["npm", "pack", f"{PACKAGE}@{version}", "--json", "--pack-destination", tmp],
            check=True,
            capture_output=True,
            text=True,
        )
        filename = json.loads(result.stdout)[0]["filename"]
        with tarfile.open(Path(tmp) / filename, "r:gz") as tar:
            # Read the one member we need; never extract the archive to disk.
            member = tar.extractfile(MEMBER)
            if member is None:
                raise SystemExit(f"{MEMBER} missing from {filename}")
            return member.read()


def departement_of(entry: dict[str, Any]) -> str:
    """Return the entry's département, deriving it from the code when absent."""
    departement = entry.get("departement")
    if departement:
        return str(departement)
    code = str(entry["code"])
    # Overseas codes carry a 3-digit département (97x, 98x), others 2 characters.
    return code[:3] if code.startswith(("97", "98")) else code[:2]


def select_rows(
    entries: Iterable[dict[str, Any]],
) -> tuple[list[tuple[str, str, str]], collections.Counter[str]]:
    """Keep current communes of known départements; return rows and counts per zone."""
    rows: list[tuple[str, str, str]] = []
    zones: collections.Counter[str] = collections.Counter()
    for entry in entries:
        if entry.get("type") != "commune-actuelle":
            continue
        departement = departement_of(entry)
        zone = str(entry.get("zone", "?"))
        if departement not in DEPARTEMENTS:
            zones[f"{zone} (ignored: {departement})"] += 1
            continue
        code = str(entry["code"])
        if not code.startswith(departement):
            raise SystemExit(f"commune {code} does not start with its département {departement}")
        rows.append((code, str(entry["nom"]), departement))
        zones[zone] += 1
    rows.sort()
    codes = [row[0] for row in rows]
    if len(codes) != len(set(codes)):
        raise SystemExit("duplicate commune codes in the source data")
    missing = set(REQUIRED_CODES) - set(codes)
    if missing:
        raise SystemExit(f"required communes missing: {sorted(missing)}")
    absent = set(DEPARTEMENTS) - {row[2] for row in rows}
    if absent:
        raise SystemExit(f"départements without any commune: {sorted(absent)}")
    return rows, zones


def render_csv(rows: Iterable[tuple[str, str, str]]) -> str:
    """Render the rows as the shipped semicolon-separated CSV text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    writer.writerow(("code", "nom", "departement"))
    writer.writerows(rows)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Regenerate the commune list and print counts per zone."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=DEFAULT_VERSION, help="npm package version")
    parser.add_argument("--json", type=Path, help="read this communes.json instead of npm")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="CSV to write")
    args = parser.parse_args(argv)

    raw = args.json.read_bytes() if args.json else fetch_communes_json(args.version)
    rows, zones = select_rows(json.loads(raw))
    text = render_csv(rows)
    args.output.write_bytes(text.encode("utf-8"))

    source = str(args.json) if args.json else f"{PACKAGE}@{args.version}"
    print(f"{source} -> {args.output} ({len(rows)} communes, {len(text.encode())} bytes)")
    for zone, count in sorted(zones.items()):
        print(f"  {zone}: {count}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
