"""``hotline keys``: create an intake API key, print it once, store only its salted hash."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.intake.keys import CALLS_WRITE, create_key
from shared.settings import get_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="who holds the key, e.g. 12345-cti or open311-gateway")
    parser.add_argument(
        "--scope",
        action="append",
        dest="scopes",
        metavar="SCOPE",
        help=f"a permission of the key (repeatable); default {CALLS_WRITE}",
    )
    parser.add_argument("--file", type=Path, default=None, help="key file (default: INTAKE_API_KEYS_FILE setting)")


def run(args: argparse.Namespace) -> int:
    path: Path = args.file or get_settings().intake.api_keys_file
    scopes = args.scopes or [CALLS_WRITE]
    try:
        plain = create_key(path, args.name, scopes)
    except ValueError as exc:
        print(f"hotline keys: {exc}", file=sys.stderr)
        return 2
    print(plain)
    print(
        f"key '{args.name}' with scopes {', '.join(scopes)} stored hashed in {path}; this is the only time it is shown",
        file=sys.stderr,
    )
    return 0
