"""SMTP stand-in: an aiosmtpd server on 127.0.0.1 with AUTH PLAIN/LOGIN and optional TLS.

Runs in aiosmtpd's own thread (``Controller``), so blocking clients (``smtplib``)
and async clients in the test's loop both work. Every accepted message is kept
as a ``ReceivedMessage`` parsed with ``email.policy.default`` (headers decoded:
``msg.subject`` is the Unicode subject even when sent RFC 2047-encoded).

TLS: ``starttls=True`` offers STARTTLS with a self-signed certificate made at
start (``require_starttls=True`` refuses commands before it); ``implicit_tls=True``
speaks TLS from the first byte (port-465 style). Clients verify against
``cert_path`` / ``client_ssl_context()``.

Scripted failures: ``fail_next(code, message, times=1, stage="DATA")`` answers
the next MAIL / RCPT / DATA command with that reply (e.g. 451 for a transient
failure, 550/554 for a permanent one).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import ipaddress
import logging
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import getaddresses
from pathlib import Path
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

# aiosmtpd logs a deprecation note from its own AUTH code on every login.
logging.getLogger("mail.log").setLevel(logging.ERROR)


@dataclass
class ReceivedMessage:
    """One delivered message: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # the message as received (after the DATA terminator is removed)
    message: EmailMessage
    auth_login: str | None  # the AUTH user, None when the session didn't authenticate
    tls: bool  # True when delivered over STARTTLS or implicit TLS
    peer: Any
    mail_options: list[str] = field(default_factory=list)
    received_at: float = field(default_factory=time.time)

    @property
    def subject(self) -> str | None:
        return self._header("Subject")

    @property
    def from_(self) -> str | None:
        return self._header("From")

    @property
    def to(self) -> list[str]:
        """Addresses (``user@host``) from the To header."""
        return [addr for _name, addr in getaddresses(self.message.get_all("To", []))]

    @property
    def cc(self) -> list[str]:
        return [addr for _name, addr in getaddresses(self.message.get_all("Cc", []))]

    @property
    def message_id(self) -> str | None:
        return self._header("Message-ID")

    def header(self, name: str) -> str | None:
        """A header, decoded (RFC 2047 encoded-words turned back into text)."""
        return self._header(name)

    def _header(self, name: str) -> str | None:
        value = self.message[name]
        return None if value is None else str(value)

    @property
    def text(self) -> str | None:
        part = self.message.get_body(preferencelist=("plain",))
        return str(part.get_content()) if part is not None else None

    @property
    def html(self) -> str | None:
        part = self.message.get_body(preferencelist=("html",))
        return str(part.get_content()) if part is not None else None

    @property
    def attachments(self) -> list[EmailMessage]:
        return list(self.message.iter_attachments())


@dataclass
class _SMTPFailure:
    code: int
    message: str
    times: int
    stage: str  # "MAIL" | "RCPT" | "DATA"


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def make_self_signed_cert(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` and ``localhost``; (cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(host))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class SMTPStandIn:
    """An SMTP submission server for tests.

    ``username``/``password``: the one account AUTH PLAIN/LOGIN accepts.
    ``auth_required``: refuse MAIL FROM before AUTH (530), like a submission server.
    ``reject_recipients``: addresses answered with ``550 5.1.1`` at RCPT TO.
    """

    def __init__(
        self,
        *,
        username: str = "fluxo@test.local",
        password: str = "smtp-test-password",
        auth_required: bool = True,
        starttls: bool = False,
        require_starttls: bool = False,
        implicit_tls: bool = False,
        reject_recipients: set[str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.port = 0
        self.username = username
        self.password = password
        self.auth_required = auth_required
        self.starttls = starttls or require_starttls
        self.require_starttls = require_starttls
        self.implicit_tls = implicit_tls
        self.reject_recipients = {a.lower() for a in reject_recipients or set()}
        self.messages: list[ReceivedMessage] = []
        self.auth_attempts: list[tuple[str, str, bool]] = []  # (mechanism, login, success)
        self.cert_path: Path | None = None
        self.key_path: Path | None = None
        self._failures: list[_SMTPFailure] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start_sync(self) -> Self:
        server_ctx: ssl.SSLContext | None = None
        if self.starttls or self.implicit_tls:
            self._tmp = tempfile.TemporaryDirectory(prefix="smtp-standin-")
            self.cert_path, self.key_path = make_self_signed_cert(Path(self._tmp.name), self.host)
            server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_ctx.load_cert_chain(self.cert_path, self.key_path)
        last_error: Exception | None = None
        for _ in range(5):
            port = _free_port(self.host)
            controller = Controller(
                _Handler(self),
                hostname=self.host,
                port=port,
                ssl_context=server_ctx if self.implicit_tls else None,
                server_hostname="smtp.standin.test",
                # SMTP(...) keyword arguments:
                authenticator=self._authenticate,
                # aiosmtpd's own auth_required warns on every connection when TLS isn't
                # required too; the handler enforces it instead (same 530 reply).
                auth_required=False,
                auth_require_tls=False,
                tls_context=server_ctx if self.starttls and not self.implicit_tls else None,
                require_starttls=self.require_starttls,
                enable_SMTPUTF8=True,
                decode_data=False,
            )
            try:
                controller.start()
            except (OSError, RuntimeError) as exc:  # port taken between probe and bind
                last_error = exc
                continue
            self._controller, self.port = controller, port
            return self
        raise RuntimeError(f"SMTP stand-in could not start: {last_error}")

    def stop_sync(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def start(self) -> Self:
        return await asyncio.to_thread(self.start_sync)

    async def stop(self) -> None:
        await asyncio.to_thread(self.stop_sync)

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __enter__(self) -> Self:
        return self.start_sync()

    def __exit__(self, *exc: object) -> None:
        self.stop_sync()

    # -- for tests ---------------------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedMessage]:
        """Alias of ``messages`` (same name as the HTTP stand-ins)."""
        return self.messages

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's self-signed certificate."""
        if self.cert_path is None:
            raise RuntimeError("TLS is not enabled on this SMTP stand-in")
        return ssl.create_default_context(cafile=str(self.cert_path))

    def fail_next(
        self, code: int = 451, message: str | None = None, times: int = 1, stage: str = "DATA"
    ) -> None:
        """Answer the next ``times`` ``stage`` commands (MAIL, RCPT or DATA) with ``code``."""
        stage = stage.upper()
        if stage not in ("MAIL", "RCPT", "DATA"):
            raise ValueError("stage must be MAIL, RCPT or DATA")
        default = {
            421: "4.3.2 Service not available, closing transmission channel",
            450: "4.2.1 Mailbox unavailable, try again later",
            451: "4.3.0 Temporary server error, try again later",
            452: "4.3.1 Insufficient system storage",
            550: "5.1.1 Mailbox unavailable",
            552: "5.3.4 Message size exceeds fixed maximum message size",
            554: "5.7.1 Message rejected",
        }.get(code, "Scripted failure")
        with self._lock:
            self._failures.append(_SMTPFailure(code, message or default, times, stage))

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.auth_attempts.clear()
            self._failures.clear()

    async def wait_for_messages(
        self, count: int = 1, timeout: float = 10.0
    ) -> list[ReceivedMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"SMTP stand-in: {len(self.messages)} of {count} messages after {timeout}s"
                )
            await asyncio.sleep(0.02)
        return list(self.messages)

    # -- server side -------------------------------------------------------------------

    def _take_failure(self, stage: str) -> _SMTPFailure | None:
        with self._lock:
            for f in self._failures:
                if f.stage == stage and f.times > 0:
                    f.times -= 1
                    if f.times == 0:
                        self._failures.remove(f)
                    return f
        return None

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        ok = login == self.username and password == self.password
        with self._lock:
            self.auth_attempts.append((mechanism, login, ok))
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)


class _Handler:
    def __init__(self, standin: SMTPStandIn) -> None:
        self.standin = standin

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.standin.auth_required and not session.authenticated:
            return "530 5.7.0 Authentication required"
        failure = self.standin._take_failure("MAIL")
        if failure is not None:
            return f"{failure.code} {failure.message}"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        failure = self.standin._take_failure("RCPT")
        if failure is not None:
            return f"{failure.code} {failure.message}"
        if address.lower() in self.standin.reject_recipients:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        failure = self.standin._take_failure("DATA")
        if failure is not None:
            return f"{failure.code} {failure.message}"
        data = envelope.original_content or (
            envelope.content
            if isinstance(envelope.content, bytes)
            else str(envelope.content).encode()
        )
        message = email.message_from_bytes(data, policy=default_policy)
        received = ReceivedMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            data=data,
            message=message,
            auth_login=session.auth_data if session.authenticated else None,
            tls=session.ssl is not None
            or (
                server.transport is not None
                and server.transport.get_extra_info("ssl_object") is not None
            ),
            peer=session.peer,
            mail_options=list(envelope.mail_options),
        )
        with self.standin._lock:
            self.standin.messages.append(received)
        return "250 2.0.0 Ok: queued as " + (message["Message-ID"] or "message").strip("<>")[:60]
