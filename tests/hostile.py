"""Hostile inputs shared by the tests and benchmarks/hostile.py: mutants of a real settings file.

Seeded: the same seed gives the same inputs, so a failure names the seed and the case."""

from __future__ import annotations

import random

from connectcheck.config.settings import SCHEMA, Settings, render_settings

# fragments that broke the loader before (issue 17) or break TOML parsers generally
FRAGMENTS = [
    "[" * 500 + "]" * 500, "{a=" * 300 + "1" + "}" * 300, "9" * 4301, "-" + "9" * 5000, "1e999", "nan", "inf",
    "0x" + "f" * 5000, "\ufeff", "\x00", "\u202e", "\ud7ff", "'''", '"""', "[[network]]", "[network.x]",
    "a.b.c.d = 1", "= 1", "x =", '"\\u0000"', '"\\uD800"', "1979-05-27T07:32:00Z", "07:32:00", "true", "[]",
    "[1, 'a', [2]]", "\r\n", "\t", "#" * 100, "k" * 300 + " = 1", '"' + "x" * 100_000 + '"',
    '["a:1"' + ', "b:2"' * 3000 + "]", "stun_servers = [\"h:¹²³\"]", "probes = 1_000_000_000_000_000_000",
]


def settings_text() -> str:
    """A real settings file: every option set to a value other than the default where it can be."""
    s = Settings()
    for opt in SCHEMA:
        if opt.type == "bool":
            s.values[opt.key] = not opt.default
        elif opt.type in ("int", "float") and opt.max is not None:
            s.values[opt.key] = type(opt.default)(opt.max)
    return render_settings(s)


def settings_mutants(seed: int, count: int) -> list[bytes]:
    """``count`` mutants of :func:`settings_text`: lines cut, doubled and swapped, bytes flipped,
    hostile fragments put in, values replaced, encodings changed."""
    rng = random.Random(seed)
    base = settings_text()
    lines = base.splitlines()
    out = []
    for _ in range(count):
        text = list(lines)
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(7)
            i = rng.randrange(len(text))
            if op == 0:
                text[i] = text[i][: rng.randrange(len(text[i]) + 1)]
            elif op == 1:
                text.insert(i, text[rng.randrange(len(text))])
            elif op == 2:
                j = rng.randrange(len(text))
                text[i], text[j] = text[j], text[i]
            elif op == 3:
                line = text[i].lstrip("# ")
                key = line.split("=", 1)[0].strip() if "=" in line else "probes"
                text[i] = f"{key} = {rng.choice(FRAGMENTS)}"
            elif op == 4:
                pos = rng.randrange(len(text[i]) + 1)
                text[i] = text[i][:pos] + rng.choice(FRAGMENTS) + text[i][pos:]
            elif op == 5:
                text[i] = text[i].lstrip("# ")  # a default uncommented
            else:
                del text[i]
            if not text:
                text = ["x"]
        data = "\n".join(text).encode("utf-8", "surrogatepass")
        pick = rng.random()
        if pick < 0.05:
            data = b"\xef\xbb\xbf" + data
        elif pick < 0.08:
            data = "\n".join(text).encode("utf-16", "surrogatepass")
        elif pick < 0.15:
            buf = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
            data = bytes(buf)
        out.append(data)
    return out
