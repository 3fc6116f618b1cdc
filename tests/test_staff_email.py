"""bot/services/staff_email.py: mail goes over verified TLS, and the mail password
never travels unencrypted (issue 29, finding 3).

A real SMTP server on this machine (aiosmtpd, as in tests/mailbox.py) with a
certificate made here: one that no CA of the system signed (a server in the middle),
and one whose CA is given to OpenSSL as the system store (``SSL_CERT_FILE``).
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import smtplib
import ssl
from pathlib import Path
from typing import Any, Iterator, List, Optional, Tuple

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.services import staff_email
from ofr import settings
from tests.servers import free_port

USER, PASSWORD = "ofr", "secret-mail-password"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_certificates(folder: Path) -> Tuple[Path, Path, Path]:
    """A CA and a certificate it signed for 127.0.0.1 and localhost: the CA file,
    the certificate and its key (PEM)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("OFR test CA"))
        .issuer_name(_name("OFR test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = (
        folder / "ca.pem",
        folder / "server.pem",
        folder / "server.key",
    )
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


class Box:
    """What the server received: mails, and the logins it was sent."""

    def __init__(self) -> None:
        self.messages: List[str] = []
        self.logins: List[Tuple[str, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content.decode("utf-8", errors="replace"))
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult

        login = (data.login.decode(), data.password.decode())
        self.logins.append(login)
        return AuthResult(success=login == (USER, PASSWORD))


@contextlib.contextmanager
def mail_server(
    certificates: Optional[Tuple[Path, Path]], mode: str
) -> Iterator[Tuple[Box, int]]:
    """An SMTP server on 127.0.0.1: ``mode`` "smtps" (TLS from the start),
    "starttls" (plain, then STARTTLS) or "plain"."""
    from aiosmtpd.controller import Controller

    box = Box()
    context = None
    if certificates is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(certificates[0]), str(certificates[1]))
    options: dict = {
        "authenticator": box.authenticate,
        # aiosmtpd counts only STARTTLS as TLS for AUTH; smtps is TLS throughout.
        "auth_require_tls": mode == "starttls",
    }
    if mode == "smtps":
        options["ssl_context"] = context
    elif mode == "starttls":
        options["tls_context"] = context
        options["require_starttls"] = True
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> Tuple[Path, Path, Path]:
    return make_certificates(tmp_path_factory.mktemp("tls"))


def configure(monkeypatch, url: str) -> None:
    monkeypatch.setenv("OFR_SMTP_URL", url)
    monkeypatch.setenv("OFR_STAFF_EMAIL", "ofr-staff@example.org")


def trust(monkeypatch, ca_file: Optional[Path]) -> None:
    """The system's CA store as OpenSSL reads it: only ``ca_file`` (or none)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file or "/nonexistent"))
    monkeypatch.setenv("SSL_CERT_DIR", "/nonexistent")


@pytest.mark.parametrize("mode", ["smtps", "starttls"])
def test_a_server_without_a_trusted_certificate_gets_no_mail_and_no_password(
    monkeypatch, certificates, mode
):
    """A server in the middle with a certificate no CA of the system signed."""
    ca_file, cert_file, key_file = certificates
    trust(monkeypatch, None)
    with mail_server((cert_file, key_file), mode) as (box, port):
        query = "?starttls=1" if mode == "starttls" else ""
        scheme = "smtps" if mode == "smtps" else "smtp"
        configure(monkeypatch, f"{scheme}://{USER}:{PASSWORD}@127.0.0.1:{port}{query}")
        assert staff_email.send_ticket_mail(1, "Frage eines Nutzers") is False
    assert box.messages == [] and box.logins == []


@pytest.mark.parametrize("mode", ["smtps", "starttls"])
def test_a_server_with_a_certificate_the_system_trusts_gets_the_mail(
    monkeypatch, certificates, mode
):
    ca_file, cert_file, key_file = certificates
    trust(monkeypatch, ca_file)
    with mail_server((cert_file, key_file), mode) as (box, port):
        query = "?starttls=1" if mode == "starttls" else ""
        scheme = "smtps" if mode == "smtps" else "smtp"
        configure(monkeypatch, f"{scheme}://{USER}:{PASSWORD}@127.0.0.1:{port}{query}")
        assert staff_email.send_ticket_mail(7, "Frage eines Nutzers") is True
    assert box.logins == [(USER, PASSWORD)]
    [mail] = box.messages
    assert "ticket #7" in mail and "Frage eines Nutzers" in mail


def test_the_certificate_must_name_the_host(monkeypatch, certificates):
    """Signed by a trusted CA, but for another name: refused."""
    ca_file, cert_file, key_file = certificates
    trust(monkeypatch, ca_file)
    with mail_server((cert_file, key_file), "smtps") as (box, port):
        # The certificate names 127.0.0.1 and localhost, not ::1's other spelling.
        monkeypatch.setattr(
            staff_email.smtplib,
            "SMTP_SSL",
            _connect_as("ip6-localhost-name.invalid", staff_email.smtplib.SMTP_SSL),
        )
        configure(monkeypatch, f"smtps://{USER}:{PASSWORD}@127.0.0.1:{port}")
        assert staff_email.send_ticket_mail(1, "Frage") is False
    assert box.messages == [] and box.logins == []


def _connect_as(name: str, smtp_class: Any) -> Any:
    """``SMTP_SSL`` that reaches 127.0.0.1 but checks the certificate for ``name``."""

    class Named(smtp_class):  # type: ignore[misc, valid-type]
        def _get_socket(self, host: str, port: int, timeout: float) -> Any:
            import socket

            plain = socket.create_connection(("127.0.0.1", port), timeout)
            return self.context.wrap_socket(plain, server_hostname=name)

    return Named


def test_the_password_never_goes_unencrypted_to_another_machine(monkeypatch):
    """settings refuse such a URL at start (make run stops); the sender itself
    refuses too, before it connects."""
    url = f"smtp://{USER}:{PASSWORD}@mail.example.org:25"
    problems = settings.read(
        {"OFR_SMTP_URL": url, "OFR_STAFF_EMAIL": "ofr-staff@example.org"}
    ).problems
    assert any("unencrypted" in p and "starttls=1" in p for p in problems), problems
    connections: List[Any] = []
    monkeypatch.setattr(
        staff_email.smtplib, "SMTP", lambda *a, **k: connections.append(a)
    )
    monkeypatch.setattr(
        staff_email.settings,
        "current",
        lambda: settings.Settings(smtp_url=url, staff_email="ofr-staff@example.org"),
    )
    assert staff_email.send_ticket_mail(1, "Frage") is False
    assert connections == []


@pytest.mark.parametrize(
    "url",
    [
        "smtp://mail.example.org:25",  # no password to protect
        f"smtp://{USER}:{PASSWORD}@mail.example.org:587?starttls=1",
        f"smtps://{USER}:{PASSWORD}@mail.example.org",
        f"smtp://{USER}:{PASSWORD}@127.0.0.1:25",  # this machine
        f"smtp://{USER}:{PASSWORD}@localhost:25",
    ],
)
def test_urls_that_keep_the_password_safe_are_accepted(url):
    assert not settings.read(
        {"OFR_SMTP_URL": url, "OFR_STAFF_EMAIL": "ofr-staff@example.org"}
    ).problems


def test_a_password_to_a_server_on_this_machine_may_go_without_tls(monkeypatch):
    with mail_server(None, "plain") as (box, port):
        configure(monkeypatch, f"smtp://{USER}:{PASSWORD}@127.0.0.1:{port}")
        assert staff_email.send_ticket_mail(3, "Frage") is True
    assert box.logins == [(USER, PASSWORD)] and len(box.messages) == 1


def test_smtp_errors_are_reported_not_raised(monkeypatch):
    configure(monkeypatch, f"smtp://127.0.0.1:{free_port()}")
    assert staff_email.send_ticket_mail(1, "Frage") is False
    assert issubclass(smtplib.SMTPException, Exception)
