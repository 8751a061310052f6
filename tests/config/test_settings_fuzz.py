"""A seeded mutation fuzz of the settings loader (a few hundred cases; benchmarks/hostile.py runs
tens of thousands): whatever the bytes, load_settings returns settings whose values are all valid,
and the problems are plain text (nothing else escapes, no hang)."""

import pytest

from connectcheck.config.settings import OPTIONS, load_settings, render_settings, validate_value
from tests.hostile import settings_mutants

SEED = 17_2026
CASES = 400


@pytest.mark.parametrize("chunk", range(4))
def test_settings_mutants_never_crash_and_keep_only_valid_values(tmp_path, chunk):
    path = tmp_path / "settings.toml"
    mutants = settings_mutants(SEED + chunk, CASES // 4)
    for case, data in enumerate(mutants):
        path.write_bytes(data)
        try:
            s = load_settings(path)
        except Exception as exc:  # the failure names what to replay
            pytest.fail(f"seed {SEED + chunk} case {case}: {type(exc).__name__}: {exc}")
        for key, value in s.values.items():
            assert validate_value(OPTIONS[key], value)[1] is None, (SEED + chunk, case, key)
        text = s.problems_text()
        assert isinstance(text, str) and len(text) < 40 * 200
        render_settings(s)  # what the Settings window would write back
