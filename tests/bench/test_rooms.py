"""The rooms stay apart (bench/__main__.py: report and compare never load the driver): the analysis never
imports the driver, not even through a module they share, so a report can be rebuilt with
no server, database or load tool; the apps never import bench/. Read with `ast`, so a
lazy import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

from lab.config import ROOT

APPS = ("project", "fastapi_service", "raw_service")


def imported(path: Path) -> set[str]:
    """Every module the file imports, and `package.name` for each `from package import name`."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            package = node.module or ""
            if node.level:  # relative: resolve against the file's own package
                parts = path.relative_to(ROOT).with_suffix("").parts[:-node.level]
                package = ".".join([*parts, package] if package else parts)
            names |= {package} | {f"{package}.{alias.name}" for alias in node.names}
    return names


def source(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)


def bench_modules_reached(start: list[Path]) -> set[str]:
    """The bench modules the files import, directly or through other bench modules."""
    reached: set[str] = set()
    todo = list(start)
    while todo:
        for name in imported(todo.pop()):
            parts = name.split(".")
            for module in (".".join(parts[:n]) for n in range(1, len(parts) + 1)):  # importing runs each package
                if parts[0] == "bench" and module not in reached:
                    reached.add(module)
                    if (path := source(module)) is not None:
                        todo.append(path)
    return reached


def test_the_walk_follows_imports_into_functions_and_through_shared_modules():
    assert {"bench.profiles", "bench.schema", "bench.endpoints"} <= bench_modules_reached(
        [ROOT / "bench" / "analysis" / "report" / "precision.py"])
    # `bench run` imports the driver inside main(), so `report` never loads it
    assert "bench.driver.cli" in bench_modules_reached([ROOT / "bench" / "__main__.py"])


def test_the_analysis_imports_nothing_from_the_driver():
    analysis = sorted((ROOT / "bench" / "analysis").rglob("*.py"))
    assert len(analysis) > 10
    driver = sorted(m for m in bench_modules_reached(analysis) if m == "bench.driver" or
                    m.startswith("bench.driver."))
    assert driver == []


def test_the_apps_import_nothing_from_bench():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            bench = sorted(m for m in imported(path) if m == "bench" or m.startswith("bench."))
            assert bench == [], path
