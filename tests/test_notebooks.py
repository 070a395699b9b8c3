"""The analysis notebooks are made from their sources by notebooks/build.py.

nbval (run over notebooks/ by the test command) checks that each notebook's stored outputs are
what its cells give; these tests check that its cells are those of its source in
notebooks/src/, so that a change made to one and not the other is caught, and that the builder
reads the percent format and refuses outputs nbval could not compare.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SOURCES = sorted((NOTEBOOKS / "src").glob("*.py"))


@pytest.fixture(scope="module")
def build():
    """notebooks/build.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cells(cells):
    return [(cell.cell_type, cell.source) for cell in cells]


def test_every_analysis_notebook_has_a_source():
    assert [p.stem for p in SOURCES] == ["funnels", "rental_lag", "scroll_depth"]


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_a_notebook_holds_the_cells_of_its_source(build, source):
    notebook = nbformat.read(NOTEBOOKS / f"{source.stem}.ipynb", as_version=4)

    expected = build.cells_of(source.read_text(encoding="utf-8"))

    assert _cells(notebook.cells) == _cells(expected), (
        f"{source.stem}.ipynb differs from src/{source.name}: edit the source, then run "
        f"`.venv/bin/python notebooks/build.py {source.stem}`"
    )
    assert [cell.id for cell in notebook.cells] == [
        f"{source.stem}-{n}" for n in range(len(expected))
    ]


def test_cells_of_reads_the_percent_format(build):
    source = (
        "# a header, not a cell\n\n"
        "# %% [markdown]\n# # Title\n#\n# Text.\n\n"
        "# %%\nx = 1\n\n\n"
        "# %%\nx\n"
    )

    cells = build.cells_of(source)

    assert _cells(cells) == [("markdown", "# Title\n\nText."), ("code", "x = 1"), ("code", "x")]


def test_a_text_cell_line_that_is_not_a_comment_is_refused(build):
    with pytest.raises(ValueError, match="must start with '# '"):
        build.cells_of("# %% [markdown]\n# Text\nx = 1\n")


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (nbformat.v4.new_output("stream", name="stderr", text="UserWarning: x"), "stderr"),
        (nbformat.v4.new_output("stream", name="stdout", text="<Axes at 0x7f3a2c1d9e50>"), "memo"),
        (
            nbformat.v4.new_output(
                "execute_result", data={"text/plain": "http://127.0.0.1:40123"}
            ),
            "local address",
        ),
        (nbformat.v4.new_output("error", ename="KeyError", evalue="'x'", traceback=[]), "failed"),
    ],
)
def test_outputs_that_would_differ_next_run_are_refused(build, output, message):
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [output]
    notebook.cells = [cell]

    with pytest.raises(ValueError, match=message):
        build.check_outputs(notebook, "example")


def test_stable_outputs_pass(build):
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="written 1,000 of 1,000\n"),
        nbformat.v4.new_output("display_data", data={"text/plain": "<Figure size 700x400>"}),
    ]
    notebook.cells = [cell]

    build.check_outputs(notebook, "example")
