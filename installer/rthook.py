"""PyInstaller runtime hook: runs in the frozen programs before connectcheck's own code.

* A windowed program on Windows has no console: ``sys.stdout`` and ``sys.stderr`` are None, and
  libraries that write to them, or wrap them when imported (speedtest-cli does, and then fails with
  AttributeError), would break. They get the null device instead. connectcheck's own log never
  writes to a console it has not got (``ui/logs.py``).
* The OpenSSL inside the build looks for the certificate authorities where the build machine keeps
  them; another Linux distribution, or macOS, keeps them elsewhere, and every HTTPS check would then
  fail with "certificate not valid". Unless the user chose (``SSL_CERT_FILE``/``SSL_CERT_DIR``), OpenSSL
  is pointed at the bundle this system has. Windows uses its own certificate store.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

# Where Linux distributions and macOS keep the bundle of trusted certificate authorities.
CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Arch, Gentoo
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL, CentOS
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # newer Fedora/RHEL
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/ssl/cert.pem",  # macOS, Alpine, FreeBSD
)


def give_streams_a_null_device() -> None:
    """Replace a missing stdout/stderr (windowed program) with the null device."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # kept open for the process


def system_ca_bundle(
    found_file: str | None, found_dir: str | None, environ: dict[str, str], isfile: Callable[[str], bool]
) -> str | None:
    """The CA bundle OpenSSL should be pointed at, or None when it finds its own (or the user chose).

    ``found_file``/``found_dir``: what ``ssl.get_default_verify_paths()`` found (None when missing).
    """
    if "SSL_CERT_FILE" in environ or "SSL_CERT_DIR" in environ or found_file or found_dir:
        return None
    return next((path for path in CA_BUNDLES if isfile(path)), None)


def point_openssl_at_system_cas() -> None:
    if sys.platform.startswith("win"):
        return
    import ssl

    paths = ssl.get_default_verify_paths()
    capath = paths.capath if paths.capath and os.listdir(paths.capath) else None
    bundle = system_ca_bundle(paths.cafile, capath, dict(os.environ), os.path.isfile)
    if bundle:
        os.environ["SSL_CERT_FILE"] = bundle


give_streams_a_null_device()
point_openssl_at_system_cas()
