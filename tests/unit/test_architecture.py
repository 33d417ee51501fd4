"""The architecture the code keeps: services import only contracts, and every collection name has one home.

- ``services/<Y>`` never imports ``services.<X>`` for another service X (``services.common`` is shared
  plumbing, allowed): what two services share lives in ``shared/``.
- ``shared/`` imports no service, and neither ``services/`` nor ``shared/`` imports ``hotline`` (the
  platform's CLI and embedded servers sit on top, not below).
- ``shared/`` imports no Kafka or MongoDB client library, but for the documented read model of the cases
  (``shared/cases.py`` takes pymongo's ``AsyncDatabase``: ``CLIENT_IMPORTS_ALLOWED``).
- A MongoDB collection is named by a constant, never by a literal at the point of use, and each name is
  spelled in one module only: its owner's (or ``shared/`` for a documented read model).
- A collection spelled in ``shared/`` is a documented read model (``READ_MODELS``: the module, the constant and
  the one service that writes it). Its constant is imported by no other service: they read it only through
  the read model's typed accessor in that ``shared/`` module (``shared.cases.CaseReadModel``).
- A file over ``MAX_LINES`` lines states why at its top (a ``Size:`` line in its docstring).
- ``tests/unit`` mirrors the code: one folder per service and one each for ``shared`` and ``hotline``, and no
  test module beside them but this one.

The checks are AST walks (no import of the code), so a violation names the file and line.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_PLUMBING = "common"
_DATABASE_NAME = re.compile(r"(^|_)(db|database)$")
_CLIENT_NAME = re.compile(r"(client|mongo)$")
# Collections other services read through a typed read model in shared/: module -> (constant, owning service).
READ_MODELS = {"shared.cases": ("CASES_COLLECTION", "metrics")}
MAX_LINES = 500
CLIENT_LIBRARIES = frozenset({"aiokafka", "faust", "kafka", "pymongo", "motor", "bson"})
CLIENT_IMPORTS_ALLOWED = {"shared/cases.py": frozenset({"pymongo"})}


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every import, including ones inside functions."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "services":  # ``from services import intake`` imports services.intake
                for alias in node.names:
                    yield node.lineno, f"{node.module}.{alias.name}"
            else:
                yield node.lineno, node.module


def import_violations(path: str, source: str) -> list[Violation]:
    """The imports ``path`` (relative, e.g. ``services/intake/app.py``) may not make."""
    parts = Path(path).parts
    layer = parts[0]
    own_service = parts[1] if layer == "services" and len(parts) > 2 else None
    found: list[Violation] = []
    for line, module in imported_modules(ast.parse(source, filename=path)):
        top, *rest = module.split(".")
        if top == "hotline" and layer in ("services", "shared"):
            found.append(Violation(path, line, f"{layer}/ imports {module}: hotline/ sits on top of the services"))
        if layer == "shared" and top in CLIENT_LIBRARIES and top not in CLIENT_IMPORTS_ALLOWED.get(path, ()):
            found.append(Violation(path, line, f"shared/ imports {module}: contracts only, no Kafka or MongoDB client"))
        if top != "services" or not rest:
            continue
        if layer == "shared":
            found.append(Violation(path, line, f"shared/ imports {module}: shared/ depends on no service"))
        elif own_service is not None and rest[0] not in (own_service, SHARED_PLUMBING):
            found.append(
                Violation(path, line, f"services/{own_service} imports {module}: share it through shared/ instead")
            )
    return found


def _terminal_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _is_database(node: ast.expr) -> bool:
    """``db``, ``database``, ``self.database``, ``mongo_db`` or ``client[...]``: what collections are taken from."""
    name = _terminal_name(node)
    if name is not None:
        return bool(_DATABASE_NAME.search(name))
    if isinstance(node, ast.Subscript):
        client = _terminal_name(node.value)
        return client is not None and bool(_CLIENT_NAME.search(client))
    return False


def collection_uses(tree: ast.AST) -> Iterator[tuple[int, ast.expr]]:
    """(line, the expression naming the collection) of every ``db[...]`` and ``db.get_collection(...)``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and _is_database(node.value):
            yield node.lineno, node.slice
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get_collection", "create_collection")
            and node.args
        ):
            yield node.lineno, node.args[0]


def collection_spellings(trees: dict[str, ast.AST]) -> dict[str, list[tuple[str, int]]]:
    """Collection name -> (module, line) of each module-level constant that spells it.

    A constant counts when its name is used to take a collection anywhere (``db[CASES]``).
    """
    constant_names = {
        name
        for tree in trees.values()
        for _, named in collection_uses(tree)
        if (name := _terminal_name(named)) is not None
    }
    spelled: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for path, tree in trees.items():
        for node in getattr(tree, "body", []):
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign):
                targets = [node.target]
            else:
                continue
            value = node.value
            if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
                continue
            for target in targets:
                if isinstance(target, ast.Name) and target.id in constant_names:
                    spelled[value.value].append((path, node.lineno))
    return spelled


def collection_violations(sources: dict[str, str]) -> list[Violation]:
    """Collections named by a literal at the point of use, and collection names spelled in two modules."""
    trees: dict[str, ast.AST] = {path: ast.parse(source, filename=path) for path, source in sources.items()}
    found: list[Violation] = []
    for path, tree in trees.items():
        for line, named in collection_uses(tree):
            if isinstance(named, ast.Constant) and isinstance(named.value, str):
                found.append(Violation(path, line, f"collection {named.value!r} spelled inline: use its constant"))
    for collection, places in collection_spellings(trees).items():
        modules = sorted({path for path, _ in places})
        if len(modules) > 1:
            for path, line in places:
                found.append(
                    Violation(path, line, f"collection {collection!r} is spelled in {len(modules)} modules: {modules}")
                )
    return found


def read_model_violations(path: str, source: str) -> list[Violation]:
    """Imports of a read model's collection constant (``READ_MODELS``) by a service that does not own it."""
    parts = Path(path).parts
    if parts[0] != "services" or len(parts) < 3:
        return []
    service = parts[1]
    found: list[Violation] = []
    for node in ast.walk(ast.parse(source, filename=path)):
        if not (isinstance(node, ast.ImportFrom) and node.module in READ_MODELS):
            continue
        constant, owner = READ_MODELS[node.module]
        if service != owner and any(alias.name == constant for alias in node.names):
            found.append(
                Violation(
                    path,
                    node.lineno,
                    f"services/{service} takes {node.module}.{constant} (written by {owner}): "
                    f"read it through the read model in {node.module}",
                )
            )
    return found


def size_violations(path: str, source: str, max_lines: int = MAX_LINES) -> list[Violation]:
    """``path`` when it is over ``max_lines`` lines and its docstring gives no ``Size:`` reason."""
    lines = source.count("\n")
    if lines <= max_lines or "Size:" in (ast.get_docstring(ast.parse(source, filename=path)) or ""):
        return []
    return [Violation(path, 1, f"{lines} lines and no 'Size:' reason in the docstring: split it or say why")]


def python_sources(*roots: str) -> dict[str, str]:
    """Relative path -> source of every ``.py`` file under ``roots`` (relative to the repository)."""
    return {
        file.relative_to(REPO).as_posix(): file.read_text(encoding="utf-8")
        for root in roots
        for file in sorted((REPO / root).rglob("*.py"))
    }


def _report(violations: Iterable[Violation]) -> str:
    return "\n".join(str(v) for v in violations)


# The rules, on the code.


def test_no_service_imports_another_service_and_shared_imports_none() -> None:
    sources = python_sources("services", "shared")
    assert any(path.startswith("services/intake/") for path in sources)  # the walk sees the code
    violations = [v for path, source in sources.items() for v in import_violations(path, source)]
    assert not violations, _report(violations)


def test_every_collection_name_is_a_constant_spelled_in_one_module() -> None:
    sources = python_sources("services", "shared", "hotline")
    violations = collection_violations(sources)
    assert not violations, _report(violations)
    spellings = collection_spellings({path: ast.parse(source) for path, source in sources.items()})
    # The walk sees the code's collections; the metrics-owned cases, read by others, is spelled in shared/.
    assert [path for path, _ in spellings["cases"]] == ["shared/cases.py"]
    assert {"counters", "programme"} <= set(spellings)


def test_a_read_models_collection_is_taken_only_by_its_owner_and_its_shared_accessor() -> None:
    sources = python_sources("services", "shared", "hotline")
    violations = [v for path, source in sources.items() for v in read_model_violations(path, source)]
    assert not violations, _report(violations)
    # Every collection spelled in shared/ is a documented read model with its owner.
    spellings = collection_spellings({path: ast.parse(source) for path, source in sources.items()})
    in_shared = {
        path.removesuffix(".py").replace("/", ".")
        for places in spellings.values()
        for path, _ in places
        if path.startswith("shared/")
    }
    assert in_shared == set(READ_MODELS)


def test_every_file_over_the_limit_says_why_at_its_top() -> None:
    sources = python_sources("services", "shared", "hotline", "tests")
    violations = [v for path, source in sources.items() for v in size_violations(path, source)]
    assert not violations, _report(violations)


def test_unit_tests_mirror_the_code() -> None:
    unit = REPO / "tests" / "unit"
    code = {p.name for p in (REPO / "services").iterdir() if (p / "__init__.py").exists()} | {"shared", "hotline"}
    assert {p.name for p in unit.iterdir() if (p / "__init__.py").exists()} == code
    assert sorted(p.name for p in unit.glob("test_*.py")) == [Path(__file__).name]


# The checkers can fail: each rule on a deliberately bad snippet.


def test_the_import_check_refuses_one_service_importing_another() -> None:
    bad = "from services.router.catalogue import load_catalogue\nimport services.metrics.settings\n"
    found = import_violations("services/intake/app.py", bad)
    assert [(v.line, "services/intake imports services.router.catalogue" in v.message) for v in found][:1] == [
        (1, True)
    ]
    assert {v.line for v in found} == {1, 2}


def test_the_import_check_refuses_a_lazy_import_inside_a_function() -> None:
    bad = "def f():\n    from services.intake import keys\n    return keys\n"
    assert [v.line for v in import_violations("services/console/users.py", bad)] == [2]
    assert [v.line for v in import_violations("services/console/users.py", "from services import intake\n")] == [1]


def test_the_import_check_allows_own_service_common_and_shared() -> None:
    good = "from services.intake.cases import CaseStepIn\nfrom services.common.mongo import mongo_client\nfrom shared.queues import QueueId\n"
    assert import_violations("services/intake/app.py", good) == []


def test_the_import_check_refuses_hotline_below_it_and_services_in_shared() -> None:
    assert [v.message for v in import_violations("services/metrics/bench.py", "from hotline.embedded import x\n")] == [
        "services/ imports hotline.embedded: hotline/ sits on top of the services"
    ]
    found = import_violations("shared/catalogue.py", "from services.router.gazetteer import Gazetteer\n")
    assert [v.message for v in found] == ["shared/ imports services.router.gazetteer: shared/ depends on no service"]


def test_the_import_check_refuses_a_client_library_in_shared_but_the_cases_read_model() -> None:
    clients = "import faust\nfrom pymongo import AsyncMongoClient\n"
    assert [v.message for v in import_violations("shared/events.py", clients)] == [
        "shared/ imports faust: contracts only, no Kafka or MongoDB client",
        "shared/ imports pymongo: contracts only, no Kafka or MongoDB client",
    ]
    assert [v.line for v in import_violations("shared/cases.py", clients)] == [1]
    assert import_violations("services/intake/app.py", clients) == []


def test_the_collection_check_refuses_an_inline_name_and_a_name_spelled_twice() -> None:
    sources = {
        "services/metrics/store.py": 'CASES = "cases"\n\ndef cases(db):\n    return db[CASES]\n',
        "services/router/agent.py": 'CASES = "cases"\n\ndef held(mongo):\n    return mongo.database[CASES]\n',
        "services/intake/app.py": 'def ping(database):\n    return database["cases"]\n',
        "hotline/bench.py": 'def count(mongo):\n    return mongo["hotline"]["cases"]\n',
    }
    found = sorted(str(v) for v in collection_violations(sources))
    assert found == [
        "hotline/bench.py:2: collection 'cases' spelled inline: use its constant",
        "services/intake/app.py:2: collection 'cases' spelled inline: use its constant",
        "services/metrics/store.py:1: collection 'cases' is spelled in 2 modules: "
        "['services/metrics/store.py', 'services/router/agent.py']",
        "services/router/agent.py:1: collection 'cases' is spelled in 2 modules: "
        "['services/metrics/store.py', 'services/router/agent.py']",
    ]


def test_the_collection_check_allows_one_constant_imported_everywhere() -> None:
    sources = {
        "shared/cases.py": 'CASES_COLLECTION = "cases"\n',
        "services/router/agent.py": "from shared.cases import CASES_COLLECTION\n\ndef held(db):\n    return db[CASES_COLLECTION]\n",
        "services/metrics/store.py": "from shared.cases import CASES_COLLECTION\n\ndef c(self):\n    return self.database.get_collection(CASES_COLLECTION)\n",
    }
    assert collection_violations(sources) == []


def test_the_read_model_check_refuses_another_service_taking_the_cases_collection() -> None:
    bad = "from shared.cases import CASES_COLLECTION, CaseReadModel\n"
    found = read_model_violations("services/router/agent.py", bad)
    assert [str(v) for v in found] == [
        "services/router/agent.py:1: services/router takes shared.cases.CASES_COLLECTION (written by metrics): "
        "read it through the read model in shared.cases"
    ]
    assert read_model_violations("services/router/agent.py", "from shared.cases import CaseReadModel\n") == []
    assert read_model_violations("services/metrics/store/base.py", bad) == []
    assert read_model_violations("hotline/bench.py", bad) == []


def test_the_size_check_refuses_a_long_file_without_a_reason() -> None:
    body = "x = 1\n" * 10
    assert size_violations("services/x.py", '"""Short."""\n' + body, max_lines=5) == [
        Violation("services/x.py", 1, "11 lines and no 'Size:' reason in the docstring: split it or say why")
    ]
    assert size_violations("services/x.py", '"""Long.\n\nSize: one table."""\n' + body, max_lines=5) == []
    assert size_violations("services/x.py", body, max_lines=10) == []
