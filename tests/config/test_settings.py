import tomllib

import pytest

from connectcheck.config import settings as st
from connectcheck.config.settings import SCHEMA, Settings, load_settings, parse_settings, save_settings


def test_defaults_come_from_the_schema():
    s = Settings()
    for opt in SCHEMA:
        assert s[opt.key] == opt.default
        assert opt.help, f"{opt.key} has no help"
        converted, problem = st.validate_value(opt, opt.default)
        assert problem is None, f"default of {opt.key} is invalid: {problem}"


def test_missing_file_gives_defaults_without_problems(tmp_path):
    s = load_settings(tmp_path / "none.toml")
    assert s.problems == [] and s["speed.streams"] == 16


def test_every_problem_is_reported_at_once_with_lines_and_valid_values_are_kept(tmp_path):
    text = (
        "[speed]\n"
        "streams = 40\n"              # line 2: out of range
        "engine = \"turbo\"\n"        # line 3: not a choice
        "time_limit_s = 8\n"          # line 4: valid, kept
        "[latency]\n"
        "probes = \"many\"\n"         # line 6: wrong type
        "intervall_ms = 20\n"         # line 7: typo
        "[network]\n"
        "stun_servers = [\"stun.example.org\"]\n"  # line 9: no port
    )
    s = parse_settings(text)
    by_key = {p.key: p for p in s.problems}
    assert set(by_key) == {"speed.streams", "speed.engine", "latency.probes", "latency.intervall_ms",
                           "network.stun_servers"}
    assert by_key["speed.streams"].line == 2 and "between 1 and 16" in by_key["speed.streams"].message
    assert by_key["speed.engine"].line == 3 and "auto, classic" in by_key["speed.engine"].message
    assert by_key["latency.probes"].line == 6
    assert by_key["latency.intervall_ms"].line == 7
    assert by_key["latency.intervall_ms"].hint == "did you mean 'latency.interval_ms'?"
    assert by_key["network.stun_servers"].line == 9 and "host:port" in by_key["network.stun_servers"].message
    assert s["speed.time_limit_s"] == 8.0 and isinstance(s["speed.time_limit_s"], float)
    assert s["speed.streams"] == 16 and s["speed.engine"] == "auto"
    assert s.file_was_bad
    assert "line 2:" in s.problems_text()


def test_syntax_error_gives_line_and_hint_and_defaults():
    s = parse_settings("[speed]\nstreams = 4\nengine = auto\n")
    assert len(s.problems) == 1
    assert s.problems[0].line == 3
    assert "not valid TOML" in s.problems[0].message and "quotes" in s.problems[0].hint
    assert s["speed.streams"] == 16  # the default: the file is not used


def test_not_utf8_and_unreadable(tmp_path):
    p = tmp_path / "settings.toml"
    p.write_bytes(b"[speed]\nstreams = 4\n# caf\xe9\n")
    s = load_settings(p)
    assert s.problems[0].line == 3 and "UTF-8" in s.problems[0].message
    d = tmp_path / "dir.toml"
    d.mkdir()
    s = load_settings(d)
    assert "could not be read" in s.problems[0].message


def test_table_where_a_section_should_be_and_a_value_where_a_table_should_be():
    s = parse_settings("speed = 3\n[latency.probes]\nx = 1\n")
    messages = " / ".join(p.message for p in s.problems)
    assert "[speed] must be a table" in messages
    assert "latency.probes must be a number, not a table" in messages


def test_save_round_trips_and_writes_defaults_as_comments(tmp_path):
    s = Settings()
    s.set("speed.streams", 6)
    s.set("network.platform_urls", ["https://example.org/", "stun:stun.example.org:3478"])
    s.set("speed.org_server_url", 'https://a"b\\c.example/')
    path = tmp_path / "sub" / "settings.toml"
    assert save_settings(s, path) is None
    text = path.read_text()
    assert "streams = 6" in text and "# engine = \"auto\"" in text
    data = tomllib.loads(text)
    assert data["speed"]["org_server_url"] == 'https://a"b\\c.example/'
    again = load_settings(path)
    assert again.problems == []
    assert again.values == s.values


def test_a_bad_file_is_kept_aside_not_overwritten(tmp_path):
    path = tmp_path / "settings.toml"
    original = "[speed]\nstreams = 99\ntime_limit_s = 9\n"
    path.write_text(original)
    s = load_settings(path)
    assert s.file_was_bad and s["speed.time_limit_s"] == 9.0
    s.set("speed.streams", 2)
    kept = save_settings(s)
    assert kept is not None and kept.read_text() == original
    assert load_settings(path)["speed.streams"] == 2
    # saving again does not make another copy: the file is good now
    assert save_settings(s) is None


def test_set_validates():
    s = Settings()
    with pytest.raises(ValueError, match="between"):
        s.set("latency.probes", 1)
    with pytest.raises(KeyError):
        s.set("no.such", 1)
    with pytest.raises(ValueError, match="whole number"):
        s.set("speed.streams", 2.5)
    s.set("speed.time_limit_s", 3)
    assert s["speed.time_limit_s"] == 3.0


def test_default_path_is_in_the_config_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CONNECTCHECK_CONFIG_DIR", str(tmp_path))
    assert st.default_path() == tmp_path / "settings.toml"
