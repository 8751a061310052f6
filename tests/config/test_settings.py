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
    assert "is a folder, not a file" in s.problems[0].message


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


# --- hostile settings files (issue 17): every one is a clear problem, none crashes or hangs ---------


def _loads_in_time(path, seconds=5.0):
    """load_settings in a thread: a hang is a failure of the test, not a stuck test run."""
    import threading

    box = {}
    worker = threading.Thread(target=lambda: box.update(s=load_settings(path)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"load_settings({path}) hung"
    return box["s"]


@pytest.mark.parametrize(("text", "words"), [
    ("[network]\nstun_servers = " + "[" * 500 + "]" * 500, "nested too deeply"),
    ("[latency]\nprobes = " + "9" * 4301, "a number in it is far too long"),
    ("[latency]\nprobes = 0x" + "f" * 5000, "not a number that large"),
    ("[latency]\nprobes = " + "9" * 400, "not a number that large"),
    ("[speed]\ntime_limit_s = 1e999", "must be a finite number"),
    ("[network]\nstun_servers = [\"h:¹²³\"]", "write it as host:port"),
    ("[network]\nstun_servers = [" + ", ".join(f'"h{i}:1"' for i in range(2000)) + "]", "at most 8 entries"),
    ("[report]\ntutor_label = \"" + "x" * 100_000 + "\"", "at most 2000 characters"),
])
def test_a_hostile_value_is_a_clear_problem_and_the_rest_of_the_file_is_used(tmp_path, text, words):
    path = tmp_path / "settings.toml"
    path.write_text("[speed]\nstreams = 3\n" + text.replace("[speed]\n", "") + "\n", encoding="utf-8")
    s = _loads_in_time(path)
    assert s.file_was_bad and words in s.problems_text()
    assert len(s.problems_text()) < 2000  # no value of 100 000 characters echoed back
    if "nested" not in words and "far too long" not in words:
        assert s["speed.streams"] == 3  # the valid part is kept


def test_a_settings_file_that_is_a_fifo_or_a_link_to_dev_zero_is_refused_at_once(tmp_path):
    import os

    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    s = _loads_in_time(fifo)
    assert "not a regular file" in s.problems_text() and s["speed.streams"] == st.defaults()["speed.streams"]
    zero = tmp_path / "zero.toml"
    zero.symlink_to("/dev/zero")
    assert "not a regular file" in _loads_in_time(zero).problems_text()
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * 2_000_000)
    assert "too large" in _loads_in_time(big).problems_text()
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    assert "is a folder" in _loads_in_time(folder).problems_text()


def test_a_utf8_bom_is_not_a_problem(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_bytes(b"\xef\xbb\xbf[speed]\r\nstreams = 3\r\n")
    s = load_settings(path)
    assert s.problems == [] and not s.file_was_bad and s["speed.streams"] == 3


def test_50000_unknown_keys_give_a_bounded_list_of_problems(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("[speed]\nstreams = 3\n" + "".join(f"unknown_{i} = 1\n" for i in range(50_000)))
    s = load_settings(path)
    lines = s.problems_text().splitlines()
    assert len(lines) == 1 + st.MAX_PROBLEMS + 1 and "and 49,980 more unknown settings" in lines[-1]
    assert s["speed.streams"] == 3


@pytest.mark.parametrize(("flag", "words"), [
    ("network.stun_servers=" + "[" * 500 + "]" * 500, "nested too deeply"),
    ("latency.probes=" + "9" * 4301, "far too long"),
    ("latency.probes=" + "9" * 400, "not a number that large"),
    ("network.stun_servers=[" + ", ".join(f'"h{i}:1"' for i in range(2000)) + "]", "at most 8 entries"),
])
def test_set_on_the_command_line_has_the_same_bounds(flag, words, capsys):
    from connectcheck.cli import main

    assert main(["history", "--set", flag]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and len(err) < 500


def test_config_that_is_a_fifo_does_not_hang_a_command(tmp_path):
    import os
    import subprocess
    import sys

    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    program = "import sys; from connectcheck.cli import main; sys.exit(main())"
    proc = subprocess.run([sys.executable, "-c", program, "history", "--config", str(fifo)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "not a regular file" in proc.stderr and "Traceback" not in proc.stderr


def test_saving_a_valid_file_keeps_the_users_own_comments_and_layout(tmp_path):
    path = tmp_path / "settings.toml"
    original = ("# my settings, do not lose this\n"
                "[speed]\n"
                "streams = 3   # the office line cannot take more\n"
                "\n"
                "[latency]\n"
                "# a slow old router\n"
                "probes = 20\n")
    path.write_bytes(b"\xef\xbb\xbf" + original.encode())  # a BOM, as Notepad writes
    s = load_settings(path)
    assert not s.file_was_bad
    s.set("speed.streams", 5)
    s.set("monitor.interval_s", 10.0)
    assert save_settings(s) is None
    text = path.read_text(encoding="utf-8")
    for kept in ("# my settings, do not lose this", "# the office line cannot take more",
                 "# a slow old router", "probes = 20"):
        assert kept in text
    assert "streams = 5" in text
    again = load_settings(path)
    assert again.problems == [] and again.values == s.values
