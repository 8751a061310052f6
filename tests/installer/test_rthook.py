"""The frozen programs' runtime hook (installer/rthook.py): the null device for a windowed program's
missing streams (tested end to end in tests/test_smoke.py), and OpenSSL pointed at the system's
certificate authorities when the build's own path to them does not exist here."""

from __future__ import annotations

import rthook

ALL = set(rthook.CA_BUNDLES)


def test_openssl_finding_its_own_authorities_is_left_alone():
    assert rthook.system_ca_bundle("/etc/ssl/certs/ca-certificates.crt", None, {}, ALL.__contains__) is None
    assert rthook.system_ca_bundle(None, "/etc/ssl/certs", {}, ALL.__contains__) is None


def test_the_users_choice_is_left_alone():
    assert rthook.system_ca_bundle(None, None, {"SSL_CERT_FILE": "/mine.pem"}, ALL.__contains__) is None
    assert rthook.system_ca_bundle(None, None, {"SSL_CERT_DIR": "/mine"}, ALL.__contains__) is None


def test_the_bundle_this_system_has_is_chosen():
    fedora = "/etc/pki/tls/certs/ca-bundle.crt"
    assert rthook.system_ca_bundle(None, None, {}, {fedora}.__contains__) == fedora
    assert rthook.system_ca_bundle(None, None, {}, {"/etc/ssl/cert.pem"}.__contains__) == "/etc/ssl/cert.pem"


def test_nothing_is_chosen_where_there_is_nothing():
    assert rthook.system_ca_bundle(None, None, {}, set().__contains__) is None
