"""The ``hotline`` command: operator-side tools. Subcommands register themselves in ``COMMANDS``."""

from __future__ import annotations

import argparse
import importlib
import sys

from pydantic import ValidationError
from pydantic_settings import BaseSettings

# name -> (module, help). Each module has ``add_arguments(parser)`` and ``run(args) -> int``.
COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("hotline.up", "run the whole platform (embedded broker and database unless configured otherwise)"),
    "topics": ("hotline.topics_cmd", "create the Hotline topics on the configured broker"),
    "keys": ("hotline.keys_cmd", "create an intake API key (printed once, stored hashed)"),
    "schemas": (
        "hotline.schemas",
        "write or check the topics' JSON Schemas (docs/topics/), docs/asyncapi.yaml and docs/configuration.md",
    ),
    "classify": ("services.classifier.cli", "classify JSON lines from stdin (no server needed)"),
    "train": ("services.classifier.training", "retrain the classifier from a labelled CSV"),
    "catalogue": ("hotline.catalogue_cmd", "check a dispatch catalogue (派单目录) file; suggest rules from returns"),
    "locate": ("hotline.locate_cmd", "resolve JSON-lines addresses to Beijing district and street/town"),
    "route": ("hotline.route_cmd", "dry-run the dispatch decision (classify + route) of JSON-lines calls, no server"),
    "examples": (
        "hotline.examples_cmd",
        "rebuild the router's learned lead and urgency scorers' examples from the labelled dispatch sets",
    ),
    "metrics": ("hotline.metrics_cmd", "rebuild (or check) every metrics aggregate from the stored cases"),
    "corrections": ("hotline.corrections_cmd", "export operators' reclassifications for `hotline train --corrections`"),
    "bench": ("hotline.bench", "push N calls through intake and print throughput and latency"),
    "deadletter": ("hotline.deadletter_cmd", "list the dead letters, or replay the ones a filter picks after a fix"),
    "status": ("hotline.status_cmd", "how the running platform is doing: health, lag, calls, dead letters, queues"),
}


# What each command's exit status means (shown by `hotline <command> --help`; docs/operations.md).
EXIT_STATUS: dict[str, str] = {
    "up": "0 stopped by Ctrl-C or SIGTERM; 1 the platform did not become ready (which process, and its log)",
    "topics": "0 the topics exist; 1 the broker did not answer in --wait seconds; 2 bad arguments",
    "keys": "0 the key was created (printed once); 2 bad arguments",
    "schemas": "0 written, or --check found them current; 1 --check found drift",
    "classify": "0 every line classified; 2 bad arguments",
    "train": "0 the artifact was written; 1 bad data (unknown labels, unreadable corrections)",
    "catalogue": "0 valid; 1 errors (or warnings with --strict); 2 the file cannot be read",
    "locate": "0 every line answered; 2 bad arguments",
    "route": "0 every line answered (a bad line gets an error line); 2 a catalogue cannot be loaded, bad arguments",
    "examples": "0 written, or --check found them current; 1 --check found them stale",
    "metrics": "0 rebuilt, or --check found them equal; 1 --check found differences, or no cases stored",
    "corrections": "0 exported; 2 bad arguments",
    "bench": "0 figures printed and written; 1 the platform did not start",
    "deadletter": "0 listed or replayed; 2 replay without a filter or --all, or bad arguments",
    "status": "0 every process is ready; 1 a process is not ready or does not answer; 2 bad arguments",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="hotline",
        description="Hotline citizen-service platform tools.",
        epilog="Exit status: 0 success; 1 the command ran and found a problem; 2 bad usage. "
        "`hotline <command> --help` says what each status means for that command.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    # Import only the chosen command's module: `hotline classify` must not pay for uvicorn or faust.
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=f"Exit status: {EXIT_STATUS.get(name, '0 success; 1 a problem found; 2 bad usage')}.",
        )
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(command)
            command.set_defaults(handler=module.run)
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ValidationError as exc:
        if not exc.title.endswith("Settings"):
            raise
        # A setting from the environment that does not parse: say which variable and why, not a traceback.
        print(f"hotline {args.command}: {settings_problem(exc)}", file=sys.stderr)
        return 2


def settings_problem(exc: ValidationError) -> str:
    """What is wrong with the settings, one line per field: the environment variable, the value and the reason."""
    prefix = next(
        (cls.model_config.get("env_prefix", "") for cls in _settings_classes() if cls.__name__ == exc.title), ""
    )
    lines = []
    for error in exc.errors():
        name = "_".join(str(part) for part in error["loc"]).upper()
        lines.append(f"{prefix}{name}={error.get('input')!r}: {error['msg']}")
    return "bad configuration (" + exc.title + "): " + "; ".join(lines)


def _settings_classes() -> list[type[BaseSettings]]:
    found: list[type[BaseSettings]] = []
    todo = list(BaseSettings.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


if __name__ == "__main__":
    sys.exit(main())
