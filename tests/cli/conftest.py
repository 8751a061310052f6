"""The command line's tests borrow the local lab's fixtures (a loopback backend for `top`)."""

from tests.local.conftest import loopback_backend, loopback_sink  # noqa: F401
