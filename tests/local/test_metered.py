"""Whether the connection is metered, when the system cannot tell: a plain "not known" with the
reason, never a guess (the real outputs are replayed in tests/local/test_corpus.py)."""

from connectcheck.local.commands import CommandResult
from connectcheck.local.metered import read_metered


def test_without_networkmanager_it_is_not_known_and_says_why():
    def missing(argv, **_):
        return CommandResult(tuple(argv), error="nmcli is not available on this computer", available=False)

    found = read_metered("linux", run=missing)
    assert found.metered is None
    assert found.how == "NetworkManager could not be asked (nmcli is not available on this computer)"


def test_windows_and_macos_say_they_are_not_read():
    for system, words in (("windows", "Windows' metered-connection setting"), ("macos", "Low Data Mode")):
        found = read_metered(system, run=lambda *a, **k: (_ for _ in ()).throw(AssertionError("not run")))
        assert found.metered is None and words in found.how and "does not read" in found.how


def test_this_computer_answers_without_raising():
    found = read_metered()
    assert found.metered in (True, False, None) and found.how
