"""Whether the connection is metered, when the system cannot tell: a plain "not known" with the
reason, never a guess (the real outputs are replayed in tests/local/test_corpus.py)."""

import pytest

from connectcheck.local.commands import CommandResult
from connectcheck.local.metered import read_metered


def test_without_networkmanager_it_is_not_known_and_says_why():
    def missing(argv, **_):
        return CommandResult(tuple(argv), error="nmcli is not available on this computer", available=False)

    found = read_metered("linux", run=missing)
    assert found.metered is None
    assert found.how == "NetworkManager could not be asked (nmcli is not available on this computer)"


def test_macos_says_low_data_mode_is_not_read():
    found = read_metered("macos", run=lambda *a, **k: (_ for _ in ()).throw(AssertionError("not run")))
    assert found.metered is None and "Low Data Mode" in found.how and "does not read" in found.how


def _powershell(stdout="", *, returncode=0, stderr="", error=None):
    asked = []

    def run(argv, **kwargs):
        asked.append((tuple(argv), kwargs))
        return CommandResult(tuple(argv), stdout=stdout, stderr=stderr, returncode=returncode, error=error)

    return run, asked


@pytest.mark.parametrize(("lines", "metered", "words"), [
    ("profile=yes\r\ncost=Unrestricted\r\nroaming=False\r\nover=False\r\n", False, "is not metered"),
    ("profile=yes\r\ncost=Fixed\r\nroaming=False\r\nover=False\r\n", True, "metered (a data limit)"),
    ("profile=yes\r\ncost=Variable\r\nroaming=False\r\nover=False\r\n", True, "a charge for each megabyte"),
    ("profile=yes\r\ncost=Unrestricted\r\nroaming=True\r\nover=False\r\n", True, "roaming"),
    ("profile=yes\r\ncost=Fixed\r\nroaming=False\r\nover=True\r\n", True, "over its data limit"),
    ("profile=yes\r\ncost=Unknown\r\nroaming=False\r\nover=False\r\n", None, "does not say"),
    ("profile=none\r\n", None, "no internet connection"),
    ("", None, "does not say"),
])
def test_windows_reads_the_connections_cost_through_its_own_script(lines, metered, words):
    """The script prints its own key=value lines; only the cost's names (Unknown, Unrestricted, Fixed,
    Variable: WinRT's NetworkCostType) and PowerShell's True/False are Windows'."""
    run, asked = _powershell(lines)
    found = read_metered("windows", run=run)
    assert found.metered is metered and words in found.how
    argv, kwargs = asked[0]
    assert argv[0] == "powershell.exe" and "-NoProfile" in argv and kwargs["timeout_s"] <= 10
    assert "GetConnectionCost()" in argv[-1] and "Set-" not in argv[-1]  # it reads, never changes


def test_windows_without_an_answer_is_not_known_and_says_why():
    said = "Unable to find type [Windows.Networking.Connectivity...]\r\nAt line:1"
    run, _ = _powershell(returncode=1, stderr=said)
    found = read_metered("windows", run=run)
    assert found.metered is None and found.how == (
        "Windows could not be asked whether this connection is metered "
        "(Unable to find type [Windows.Networking.Connectivity...])")
    run, _ = _powershell(error="powershell.exe is not available on this computer")
    assert "not available" in read_metered("windows", run=run).how


def test_this_computer_answers_without_raising():
    found = read_metered()
    assert found.metered in (True, False, None) and found.how
