"""The ``hotline`` command: operator-side tools. Subcommands register themselves in ``COMMANDS``."""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, help). Each module has ``add_arguments(parser)`` and ``run(args) -> int``.
COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("hotline.up", "run the whole platform (embedded broker and database unless configured otherwise)"),
    "topics": ("hotline.topics_cmd", "create the Hotline topics on the configured broker"),
    "keys": ("hotline.keys_cmd", "create an intake API key (printed once, stored hashed)"),
    "schemas": ("hotline.schemas", "write or check the topics' JSON Schemas in docs/topics/"),
    "classify": ("services.classifier.cli", "classify JSON lines from stdin (no server needed)"),
    "train": ("services.classifier.training", "retrain the classifier from a labelled CSV"),
    "catalogue": ("hotline.catalogue_cmd", "check a dispatch catalogue (派单目录) file; suggest rules from returns"),
    "locate": ("hotline.locate_cmd", "resolve JSON-lines addresses to Beijing district and street/town"),
    "metrics": ("hotline.metrics_cmd", "rebuild (or check) every metrics aggregate from the stored cases"),
    "corrections": ("hotline.corrections_cmd", "export operators' reclassifications for `hotline train --corrections`"),
    "bench": ("hotline.bench", "push N calls through intake and print throughput and latency"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="hotline", description="Hotline citizen-service platform tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    # Import only the chosen command's module: `hotline classify` must not pay for uvicorn or faust.
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(command)
            command.set_defaults(handler=module.run)
    args = parser.parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
