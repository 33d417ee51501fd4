"""``hotline keys``: create an API key (intake, the metrics read API), print it once, store only its salted hash."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.intake.settings import IntakeSettings
from shared.api_keys import CALLS_WRITE, CASES_ACT, CASES_READ, READ_ALL, SUPERVISOR, create_key


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="who holds the key, e.g. 12345-cti or open311-gateway")
    parser.add_argument(
        "--scope",
        action="append",
        dest="scopes",
        metavar="SCOPE",
        help=f"a permission of the key (repeatable); default {CALLS_WRITE}",
    )
    parser.add_argument(
        "--unit",
        action="append",
        dest="units",
        metavar="QUEUE_ID",
        help=f"a queue the key acts for on cases, e.g. street:大兴区/西红门镇 (repeatable; adds {CASES_ACT})",
    )
    parser.add_argument(
        "--source-system",
        action="append",
        dest="source_systems",
        metavar="NAME",
        help="bind the key to this source_system (repeatable): its calls under any other name get 403; "
        "unbound keys may use any name",
    )
    parser.add_argument(
        "--read",
        action="store_true",
        help=f"also read the metrics API for the --unit queues and their cases (scope {CASES_READ})",
    )
    parser.add_argument(
        "--read-all", action="store_true", help=f"read every queue and case of the metrics API: scope {READ_ALL}"
    )
    parser.add_argument("--supervisor", action="store_true", help=f"a hotline supervisor: scope {SUPERVISOR}")
    parser.add_argument(
        "--file", type=Path, default=None, help="key file (default: HOTLINE_INTAKE_API_KEYS_FILE setting)"
    )


def run(args: argparse.Namespace) -> int:
    path: Path = args.file or IntakeSettings().api_keys_file
    units = getattr(args, "units", None) or []
    sources = getattr(args, "source_systems", None) or []
    read, read_all = getattr(args, "read", False), getattr(args, "read_all", False)
    if read and not units:
        print("hotline keys: --read needs the --unit queues it may read", file=sys.stderr)
        return 2
    chosen = units or getattr(args, "supervisor", False) or read_all
    scopes = list(args.scopes or ([] if chosen else [CALLS_WRITE]))
    scopes += [CASES_ACT] if units else []
    scopes += [CASES_READ] if read else []
    scopes += [READ_ALL] if read_all else []
    scopes += [SUPERVISOR] if getattr(args, "supervisor", False) else []
    try:
        plain = create_key(path, args.name, list(dict.fromkeys(scopes)), units, sources)
    except ValueError as exc:
        print(f"hotline keys: {exc}", file=sys.stderr)
        return 2
    print(plain)
    print(
        f"key '{args.name}' with scopes {', '.join(dict.fromkeys(scopes))}"
        + (f" for units {', '.join(units)}" if units else "")
        + (f" submitting as {', '.join(sources)}" if sources else "")
        + f" stored hashed in {path}; this is the only time it is shown",
        file=sys.stderr,
    )
    return 0
