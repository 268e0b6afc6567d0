"""The CLI's consoles and how a command fails: light, so that every command, its --help
included, has them without loading the database layer (`interop.preflight`)."""

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err_console = Console(stderr=True)


def fail(message: str) -> NoReturn:
    """Print one error line and exit 1: a mistake the user can fix gets no traceback."""
    # escape: the message may quote what the user typed, and "[/x]" would be Rich markup
    # (a MarkupError traceback in place of the error).
    err_console.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)
