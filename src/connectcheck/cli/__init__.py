"""The command line: ``connectcheck check`` and the other headless subcommands."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TextIO

from connectcheck import __version__
from connectcheck.cli import check as check_commands
from connectcheck.cli import history as history_commands
from connectcheck.cli import monitor as monitor_commands
from connectcheck.cli import report as report_commands
from connectcheck.cli.common import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    ending_like_ctrl_c,
)
from connectcheck.cli.smoke import FLAG as SMOKE_FLAG
from connectcheck.core.words import clean
from connectcheck.ui.autostart import AUTOSTART_FLAG

# The subcommands, each in a module of its own with register(subparsers), imported plainly so that
# the import graph and PyInstaller see them.
COMMAND_MODULES: tuple[ModuleType, ...] = (
    check_commands, monitor_commands, history_commands, report_commands)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="connectcheck",
        description="Checks whether this connection is good enough for an online lesson.",
    )
    parser.add_argument("--version", action="version", version=f"connectcheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    for commands in COMMAND_MODULES:
        commands.register(sub)
    return parser


# Arguments of the tray app itself (``connectcheck --autostart`` from the login entry).
APP_FLAGS = (AUTOSTART_FLAG, "--quit")


def qt_import_problem(exc: ImportError) -> str:
    """Why the tray app cannot start when Qt's modules fail to import, with what to install."""
    from connectcheck.ui import syslibs

    said = f"its window cannot start: Qt could not be loaded ({exc})."
    try:
        lacking = syslibs.missing(syslibs.read_libraries(), ("base", *syslibs.WINDOW_GROUPS))
    except (OSError, ValueError):
        return said
    if not lacking:
        return said
    return f"{said} To install what is missing, {syslibs.install_hint(lacking)}."


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``connectcheck`` alone starts the tray app; with a subcommand it runs that and exits."""
    out = out or sys.stdout
    err = err or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [SMOKE_FLAG]:  # the installer build's check of a frozen program (smoke.py)
        from connectcheck.cli.smoke import run_smoke_test

        return run_smoke_test(out, err)
    if not argv or argv[0] in APP_FLAGS:
        try:
            from connectcheck.ui.app import run_app
        except ImportError as exc:  # Qt itself could not load: a system library it links to is missing
            print(f"connectcheck: {qt_import_problem(exc)}", file=err)
            return EXIT_FAILED
        return run_app(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(out)
        return EXIT_OK
    try:
        with ending_like_ctrl_c():
            return args.func(args, out, err)
    except KeyboardInterrupt:  # outside the part that cancels cleanly: nothing was under way
        return EXIT_CANCELLED
    except UsageError as exc:
        print(f"connectcheck: {exc}", file=err)
        return EXIT_USAGE
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
        name = os.fsdecode(exc.filename) if exc.filename else "a file"
        print(f"connectcheck: the file name is too long for this system ({len(os.fsencode(name))} bytes): "
              f"{clean(name[:80])}…", file=err)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
