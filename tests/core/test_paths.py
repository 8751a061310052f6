import sys

import pytest

from connectcheck.core import paths as osname


@pytest.mark.parametrize("platform, expected", [
    ("win32", "windows"), ("darwin", "macos"), ("linux", "linux"), ("freebsd14", "linux"),
])
def test_the_system_is_named_as_the_per_os_code_expects(monkeypatch, platform, expected):
    monkeypatch.setattr(sys, "platform", platform)
    assert osname.current_os() == expected
