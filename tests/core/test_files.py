"""Atomic writes and the data files the app ships: one clear message when one is broken."""

from __future__ import annotations

import pytest

from connectcheck.core.files import atomic_write_text, read_bundled_toml, read_toml


class BrokenData(ValueError):
    pass


def test_a_bundled_file_is_read_from_the_resources_folder():
    data, path = read_bundled_toml("causes.toml", "cause limits", BrokenData)
    assert path.name == "causes.toml" and path.parent.name == "resources"
    assert data["limits"]["queue_ms"] > 0


@pytest.mark.parametrize("content, words", [
    (None, "No such file"),
    (b"\xff\xfe not utf-8", "codec can't decode"),
    (b"[limits\nqueue_ms = ", "Expected"),
])
def test_a_missing_or_broken_file_says_which_and_why(tmp_path, content, words):
    path = tmp_path / "data.toml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BrokenData) as caught:
        read_toml(path, "cause limits", BrokenData)
    message = str(caught.value)
    assert message.startswith(f"the cause limits {path} cannot be read: ") and words in message


def test_a_given_path_wins_over_the_bundled_file(tmp_path):
    path = tmp_path / "mine.toml"
    atomic_write_text(path, "[limits]\nqueue_ms = 12.5\n")
    data, read_from = read_bundled_toml("causes.toml", "cause limits", BrokenData, path)
    assert read_from == path and data == {"limits": {"queue_ms": 12.5}}
