"""``hotline catalogue check FILE``: validate a dispatch catalogue (派单目录), with line numbers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.router.catalogue_check import check_catalogue_text
from shared.catalogue import DEFAULT_CATALOGUE_PATH


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    check = sub.add_parser("check", help="report invalid rules, unknown units, unreachable rules and overlaps")
    check.add_argument("file", type=Path, nargs="?", default=DEFAULT_CATALOGUE_PATH, help="catalogue YAML file")
    check.add_argument("--strict", action="store_true", help="warnings (overlaps) fail too")


def run(args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"{path}: cannot read: {exc}", file=sys.stderr)
        return 2
    findings = check_catalogue_text(text)
    for finding in findings:
        print(finding.format(str(path)))
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    print(f"{path}: {errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return 1 if errors or (args.strict and warnings) else 0
