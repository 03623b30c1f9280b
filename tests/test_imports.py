"""No import cycle between any two project modules, package `__init__` files included.

`lint-imports` (pyproject.toml) checks the layers and, with `acyclic_siblings`, cycles between
siblings. A cycle between a package and one of its own modules (a `retriever/__init__.py`
that re-exports `retriever.search`, which imports `from retriever import ...`) is no sibling
cycle, so this test closes that gap on the same graph library import-linter uses (grimp).
Function-level imports count: they are cycles that only show up at run time.
"""

from __future__ import annotations

import grimp

ROOT_PACKAGES = ("kommunesoeg", "indexer", "retriever", "eval")


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """One shortest cycle through every direct import that lies on a cycle."""
    found = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                found.append([importer, *back])
    return found


def test_no_import_cycles_between_project_modules():
    graph = grimp.build_graph(*ROOT_PACKAGES, include_external_packages=False)
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_cycle_finder_sees_a_package_importing_its_own_module():
    """The gap this test exists for: `pkg` <-> `pkg.mod` is found."""
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.mod", "pkg.other"):
        graph.add_module(module)
    graph.add_import(importer="pkg", imported="pkg.mod")
    graph.add_import(importer="pkg.mod", imported="pkg")
    graph.add_import(importer="pkg.other", imported="pkg.mod")
    assert _cycles(graph) == [["pkg", "pkg.mod", "pkg"], ["pkg.mod", "pkg", "pkg.mod"]]
