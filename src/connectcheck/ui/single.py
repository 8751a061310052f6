"""One instance only: the first start listens on a local socket; a later start sends it a word
("show" brings its window forward, "quit" ends it, for installers) and exits.

The socket's name comes from the user's config folder, so that every user (and every test,
which has a private config folder) has an instance of their own.
"""

from __future__ import annotations

import hashlib
import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QAbstractSocket, QLocalServer, QLocalSocket

from connectcheck.core import paths
from connectcheck.ui.signals import emit

SHOW = "show"
QUIT = "quit"
COMMANDS = (SHOW, QUIT)
TIMEOUT_MS = 1000

log = logging.getLogger(__name__)


def server_name() -> str:
    """A name per user and config folder (the folder itself may hold characters a socket can't)."""
    digest = hashlib.sha256(str(paths.config_dir().resolve()).encode("utf-8")).hexdigest()[:16]
    return f"connectcheck-{digest}"


def send(command: str, name: str | None = None, timeout_ms: int = TIMEOUT_MS) -> bool:
    """Send a command to the running instance; False when none answers."""
    sock = QLocalSocket()
    sock.connectToServer(name or server_name())
    if not sock.waitForConnected(timeout_ms):
        return False
    sock.write(command.encode("ascii") + b"\n")
    sock.flush()
    while sock.bytesToWrite() and sock.waitForBytesWritten(timeout_ms):
        pass
    written = sock.bytesToWrite() == 0
    # the instance hangs up once it has read the word: wait for that, so that it is never lost
    if sock.state() == QLocalSocket.LocalSocketState.ConnectedState:
        sock.waitForDisconnected(timeout_ms)
    sock.abort()
    return written


class SingleInstance(QObject):
    """The listening side: ``command`` is emitted with each word a later start sends."""

    command = Signal(str)

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self.name = name or server_name()
        self.server = QLocalServer(self)
        self._clients: list[QLocalSocket] = []  # connected, their word not read yet
        # No socket options: with them Qt creates the socket elsewhere and renames it into place,
        # which silently replaces a running instance's socket instead of failing.
        self.server.newConnection.connect(self._accept)

    def listen(self) -> bool:
        """Start listening; False if another instance already does (then send it a word)."""
        if _answers(self.name):
            return False
        if self.server.listen(self.name):
            return True
        if self.server.serverError() == QAbstractSocket.SocketError.AddressInUseError:
            if _answers(self.name):
                return False
            QLocalServer.removeServer(self.name)  # left behind by a crash
            if self.server.listen(self.name):
                return True
        log.warning("single instance: cannot listen on %s: %s", self.name, self.server.errorString())
        return True  # carry on alone rather than not start at all

    def close(self) -> None:
        self.server.close()

    # The connected sockets are kept in a list and dropped by hand. An earlier version had each
    # socket's readyRead call a lambda holding the socket and its disconnected signal call its own
    # deleteLater: destroying the instance while such a deletion was pending crashed the process
    # ("shared QObject was deleted directly"), within a few hundred connections.
    def _accept(self) -> None:
        while (sock := self.server.nextPendingConnection()) is not None:
            self._clients.append(sock)
            sock.readyRead.connect(self._read_all)
            sock.disconnected.connect(self._forget_gone)
        self._read_all()

    def _read_all(self) -> None:
        for sock in [s for s in self._clients if s.canReadLine()]:
            word = bytes(sock.readLine().data()).decode("ascii", "replace").strip()
            self._drop(sock)
            if word in COMMANDS:
                log.info("another start sent %r", word)
                emit(self.command, word)
            else:
                log.warning("ignored an unknown word on the instance socket: %r", word[:40])

    def _forget_gone(self) -> None:
        self._read_all()  # a start that wrote its word and hung up at once
        for sock in [s for s in self._clients if s.state() == QLocalSocket.LocalSocketState.UnconnectedState]:
            self._drop(sock)

    def _drop(self, sock: QLocalSocket) -> None:
        self._clients.remove(sock)
        sock.readyRead.disconnect(self._read_all)
        sock.disconnected.disconnect(self._forget_gone)
        sock.disconnectFromServer()
        sock.deleteLater()


def _answers(name: str) -> bool:
    sock = QLocalSocket()
    sock.connectToServer(name)
    alive = sock.waitForConnected(300)
    sock.abort()
    return alive
