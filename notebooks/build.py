"""Build the analysis notebooks from their Python sources, and run them.

Each notebook ``notebooks/<name>.ipynb`` is made from ``notebooks/src/<name>.py``,
a script in the "percent" format that editors such as VS Code, Spyder and
jupytext read as cells:

- a line ``# %%`` starts a code cell;
- a line ``# %% [markdown]`` starts a text cell, whose lines are comments
  (``# `` is taken off each line);
- what comes before the first marker is the script's header, not a cell.

The sources are plain Python, so ruff checks and formats them like the rest of
the project, and a change to a notebook is a readable diff of its source. The
built notebook is executed in this Python (nbclient, the same engine nbval
uses) and saved with its outputs, which nbval then compares with a fresh run
under ``scripts/run test``. Building refuses outputs that could not be
compared: errors, anything written to stderr (warnings, progress bars), and
text that changes from run to run (memory addresses, local ports, temporary
paths).

Usage::

    .venv/bin/python notebooks/build.py            # every notebook of src/
    .venv/bin/python notebooks/build.py funnels    # only these
    .venv/bin/python notebooks/build.py --run quickstart   # run an .ipynb in place

``--run`` re-executes a notebook that has no source here (such as
``quickstart.ipynb``, edited by hand) so that its stored outputs follow a
change of the library. ``INFLUXDB_URL`` is ignored while building: the
notebooks then start their own throwaway server, so what they store does not
depend on a server's earlier contents.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"

#: Seconds one cell may take before the build gives up.
CELL_TIMEOUT = 300

#: The settings that would point the notebooks at a configured server.
_SERVER_VARIABLES = ("INFLUXDB_URL", "INFLUXDB_V2_URL")

_MARKER = re.compile(r"^# %%(?P<markdown> \[markdown\])?\s*$")

#: Output text that would differ on the next run, and so break nbval's comparison.
_UNSTABLE = {
    "a memory address": re.compile(r"\b0x[0-9a-f]{6,}\b"),
    "a local address": re.compile(r"\b(?:127\.0\.0\.1|localhost):\d+"),
    "a temporary path": re.compile(r"/tmp/|journeys-influxd-"),
    "a timing": re.compile(r"Wall time|CPU times|\bit/s\b"),
}


def cells_of(source: str) -> list[nbformat.NotebookNode]:
    """The notebook cells of a percent-format script, in order."""
    cells: list[tuple[str, list[str]]] = []
    for line in source.splitlines():
        marker = _MARKER.match(line)
        if marker:
            cells.append(("markdown" if marker["markdown"] else "code", []))
        elif cells:
            cells[-1][1].append(line)

    made = []
    for kind, lines in cells:
        if kind == "markdown":
            text = "\n".join(_uncomment(line) for line in lines).strip()
            made.append(nbformat.v4.new_markdown_cell(text))
        else:
            made.append(nbformat.v4.new_code_cell("\n".join(lines).strip()))
    return [cell for cell in made if cell.source]


def _uncomment(line: str) -> str:
    if line in ("", "#"):
        return ""
    if not line.startswith("# "):
        raise ValueError(f"a line of a markdown cell must start with '# ', got {line!r}")
    return line[2:]


def execute(notebook: nbformat.NotebookNode) -> float:
    """Run every cell of ``notebook`` in place, from the notebooks folder; the seconds it took."""
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(HERE)}},
        record_timing=False,
    )
    # The kernel inherits this environment when it starts.
    saved = {name: os.environ.pop(name) for name in _SERVER_VARIABLES if name in os.environ}
    started = time.perf_counter()
    try:
        client.execute()
    finally:
        os.environ.update(saved)
    return time.perf_counter() - started


def check_outputs(notebook: nbformat.NotebookNode, name: str) -> None:
    """Raise ValueError for an output nbval could not compare from one run to the next."""
    for number, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            where = f"{name}, cell {number}"
            if output.output_type == "error":
                raise ValueError(f"{where} failed: {output.ename}: {output.evalue}")
            if output.output_type == "stream" and output.name == "stderr":
                raise ValueError(f"{where} wrote to stderr: {output.text[:300]!r}")
            texts = [output.get("text", "")]
            texts += [v for k, v in output.get("data", {}).items() if k.startswith("text/")]
            for text in texts:
                for what, pattern in _UNSTABLE.items():
                    found = pattern.search(text)
                    if found and "NBVAL_IGNORE_OUTPUT" not in cell.source:
                        raise ValueError(f"{where} shows {what}: {found.group()!r}")


def build(name: str) -> float:
    """Make ``<name>.ipynb`` from ``src/<name>.py``, run it and save it; the seconds it ran."""
    source = (SOURCES / f"{name}.py").read_text(encoding="utf-8")
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    notebook.cells = cells_of(source)
    # Ids by position, so that building again changes nothing that did not change.
    for number, cell in enumerate(notebook.cells):
        cell.id = f"{name}-{number}"
    return _run_and_save(notebook, name)


def run_in_place(name: str) -> float:
    """Run ``<name>.ipynb`` again and save it with its new outputs."""
    notebook = nbformat.read(HERE / f"{name}.ipynb", as_version=4)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    return _run_and_save(notebook, name)


def _run_and_save(notebook: nbformat.NotebookNode, name: str) -> float:
    seconds = execute(notebook)
    check_outputs(notebook, name)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = _joined_streams(cell.outputs)
    nbformat.validator.normalize(notebook)
    nbformat.write(notebook, HERE / f"{name}.ipynb")
    return seconds


def _joined_streams(outputs: list) -> list:
    """The outputs, with each run of text to one stream joined into one output.

    The kernel may send one print in several pieces; Jupyter shows them as one.
    """
    joined: list = []
    for output in outputs:
        last = joined[-1] if joined else None
        if (
            output.output_type == "stream"
            and last is not None
            and last.output_type == "stream"
            and last.name == output.name
        ):
            last.text += output.text
        else:
            joined.append(output)
    return joined


def main(argv: list[str] | None = None) -> int:
    """Command line: build the named notebooks (all of ``src/`` by default)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebooks to build, without .py")
    parser.add_argument(
        "--run", action="store_true", help="re-run the named .ipynb in place instead"
    )
    args = parser.parse_args(argv)

    if args.run:
        if not args.names:
            parser.error("--run needs the names of the notebooks to run")
        names, action = args.names, run_in_place
    else:
        names = args.names or sorted(p.stem for p in SOURCES.glob("*.py"))
        action = build
    for name in names:
        seconds = action(name)
        print(f"{name}.ipynb: ran in {seconds:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
