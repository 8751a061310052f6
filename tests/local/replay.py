"""Replaying recorded outputs of other systems' tools, so their backends run on Linux.

A :class:`Replay` is a :data:`connectcheck.local.commands.Runner`: it answers a command with the
next recorded output queued for it (by the words its argv starts with), and says "not available"
for any command it has nothing for, as a missing program would.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

from connectcheck.local.commands import CommandResult

RECORDED = Path(__file__).parent / "recorded"


def recorded(name: str, folder: Path = RECORDED) -> str:
    """The text of a recorded output."""
    return (folder / name).read_text(encoding="utf-8")


class Replay:
    """Answers commands from recorded outputs: ``Replay({("nettop",): ["a.csv", "b.csv"]})``."""

    def __init__(
        self, outputs: dict[tuple[str, ...], list[str]], returncode: int = 0, folder: Path = RECORDED
    ) -> None:
        self.queues = {key: deque(files) for key, files in outputs.items()}
        self.returncode = returncode
        self.folder = folder
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv, *, timeout_s=3.0, cancel=None, env=None) -> CommandResult:
        args = tuple(argv)
        self.calls.append(args)
        for key, queue in self.queues.items():
            if args[: len(key)] == key and queue:
                name = queue[0] if len(queue) == 1 else queue.popleft()  # the last one repeats
                return CommandResult(args, recorded(name, self.folder), "", self.returncode)
        return CommandResult(args, error=f"{args[0]} is not available on this computer", available=False)
