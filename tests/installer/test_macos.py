"""The macOS packaging: the signing and notarising script cannot run here (it needs a Mac, Xcode's
tools and Apple's certificates), so it must say what it needs and stop; the entitlements it signs with."""

from __future__ import annotations

import plistlib
import subprocess

import bundle

SCRIPT = bundle.HERE / "macos" / "sign-and-notarise.sh"


def test_the_macos_signing_script_says_what_it_needs_and_stops(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "missing.app")], env=env,
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2 and done.stdout == ""
    for needed in ("CONNECTCHECK_SIGN_IDENTITY is not set", "CONNECTCHECK_NOTARY_PROFILE",
                   "there is no " + str(tmp_path / "missing.app")):
        assert needed in done.stderr


def test_the_script_is_valid_bash_and_documents_its_variables():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    header = SCRIPT.read_text(encoding="utf-8").split("set -euo pipefail", 1)[0]
    for var in ("CONNECTCHECK_SIGN_IDENTITY", "CONNECTCHECK_NOTARY_PROFILE", "CONNECTCHECK_APPLE_ID",
                "CONNECTCHECK_TEAM_ID", "CONNECTCHECK_APP_PASSWORD", "CONNECTCHECK_SKIP_NOTARY"):
        assert var in header


def test_the_hardened_runtime_gets_only_what_python_needs():
    entitlements = plistlib.loads((bundle.HERE / "macos" / "entitlements.plist").read_bytes())
    assert entitlements == {"com.apple.security.cs.allow-unsigned-executable-memory": True}
