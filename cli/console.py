"""The CLI's terminal output: plain text, never rich markup.

CIDs, reasons and other strings from the chain, a file or the API are printed exactly as they
are: a ``[/x]`` in a CID is text, not a markup tag (``Console(markup=False)``, and status lines
as ``Text``). Failures are one line on the console and a non-zero exit code.
"""

from __future__ import annotations

import logging
from typing import NoReturn

import typer
from rich.console import Console
from rich.text import Text

console = Console(markup=False, highlight=False, emoji=False)
# native libraries whose own logging (tables, warnings, timings) is not the user's business
QUIET_LOGGERS = ("ezkl", "tract_linalg", "tract_core", "tract_onnx", "tract_hir")


def fail(message: str) -> NoReturn:
    """Print ``error: <message>`` and exit with status 1."""
    console.print(Text("error: ", style="red") + Text(str(message)), soft_wrap=True)
    raise typer.Exit(1)


def status(text: str):
    """A spinner with ``text`` (plain) while a step runs."""
    return console.status(Text(text))


def configure_logging() -> None:
    """Warnings and errors of zkpot only; the zk libraries' own output is silenced."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
