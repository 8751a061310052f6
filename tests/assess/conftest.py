"""The cause tests judge real checks the report tests make (servers started by the tests)."""

from tests.report.conftest import pki, unreachable_check  # noqa: F401
