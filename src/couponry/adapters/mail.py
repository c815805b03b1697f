"""Sending mail over SMTP (smtplib, standard library), with each failure sorted by what it proves.

`COUPONRY_SMTP_URL` picks the transport: `smtp://host:port` (plain, e.g. a local debugging server),
`smtp+starttls://user:password@host:587` (upgraded with STARTTLS), `smtps://user:password@host:465`
(TLS from the first byte). smtplib is enough: one connection per batch, a few commands per message; an
asynchronous client (aiosmtplib) would buy nothing in a background thread and add a dependency.

The outcome of a message is one of three, and the caller retries accordingly:
- accepted (250 after DATA): sent;
- `MailRejected`: a 5xx for this message or recipient, sending it again would get the same answer;
- `MailDeferred`: a 4xx, or the connection failed before the message's end was sent: it was not sent,
  try later;
- `MailOutcomeUnknown`: the connection failed or timed out *after* the whole message was sent and
  before the server's reply. The server may well have queued it (RFC 1047). See docs/messaging.md for
  why this is retried (with the same Message-ID) rather than dropped.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from types import TracebackType
from urllib.parse import unquote, urlsplit


class MailError(Exception):
    """Base of the failures of one message."""


class MailRejected(MailError):
    """Refused for good (5xx): do not send again."""


class MailDeferred(MailError):
    """Not sent (4xx, or no connection / broken before the message's end): send again later."""


class MailOutcomeUnknown(MailError):
    """The whole message went out but no reply came back: it may have been delivered."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    security: str  # none | starttls | tls
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        security = {"smtp": "none", "smtp+starttls": "starttls", "smtps": "tls"}.get(parts.scheme)
        if security is None or not parts.hostname:
            raise ValueError(
                "COUPONRY_SMTP_URL must look like smtp://host:port, smtp+starttls://… or smtps://…, "
                f"not {url!r}"
            )
        default_port = {"none": 25, "starttls": 587, "tls": 465}[security]
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            security=security,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


_LEADING_DOT = re.compile(rb"(?m)^\.")


def _wire(message: EmailMessage) -> bytes:
    """The message as sent after DATA: CRLF line ends, leading dots doubled (RFC 5321 §4.5.2)."""
    data = _LEADING_DOT.sub(b"..", message.as_bytes(policy=SMTP_POLICY))
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _raise_for(code: int, reply: bytes, what: str) -> None:
    text = f"{what}: {code} {reply.decode(errors='replace')}"
    if 500 <= code < 600:
        raise MailRejected(text)
    raise MailDeferred(text)


class SmtpConnection:
    """One SMTP session that sends several messages: `with SmtpConnection(target) as smtp: smtp.send(m)`."""

    def __init__(self, target: SmtpTarget, timeout: float) -> None:
        self.target, self.timeout = target, timeout
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpConnection:
        t = self.target
        try:
            if t.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    t.host, t.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(t.host, t.port, timeout=self.timeout)
            smtp.ehlo()
            if t.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if t.username:
                smtp.login(t.username, t.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise MailDeferred(f"SMTP login refused: {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise MailDeferred(f"cannot reach {t.host}:{t.port}: {exc}") from exc
        self._smtp = smtp
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None

    @property
    def alive(self) -> bool:
        """False once the connection broke (smtplib closes its socket on a lost connection)."""
        return self._smtp is not None and getattr(self._smtp, "sock", None) is not None

    def send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        """Send one message; raises MailRejected, MailDeferred or MailOutcomeUnknown."""
        smtp = self._smtp
        assert smtp is not None, "use SmtpConnection as a context manager"
        data = _wire(message)
        try:
            code, reply = smtp.mail(sender)
            if code != 250:
                smtp.rset()
                _raise_for(code, reply, "MAIL FROM")
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                smtp.rset()
                _raise_for(code, reply, "RCPT TO")
            code, reply = smtp.docmd("DATA")
            if code != 354:
                smtp.rset()
                _raise_for(code, reply, "DATA")
            smtp.send(data)
        except (OSError, smtplib.SMTPException) as exc:  # before the message's end: certainly not sent
            raise MailDeferred(f"connection lost before the message was sent: {exc}") from exc
        try:
            code, reply = smtp.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            raise MailOutcomeUnknown(f"no reply after the message was sent: {exc}") from exc
        if code != 250:
            _raise_for(code, reply, "end of DATA")
