"""Connections to addresses people typed in (account news feeds, webhook endpoints), safe from SSRF.

A name is resolved once, every address it resolves to is checked, and the connection goes to
an address we checked: one private, loopback, link-local, multicast or reserved address refuses
the whole name (an attacker's DNS may answer with a public and a private one), and a name that
resolves differently a moment later (DNS rebinding) cannot steer the connection inside. TLS
still checks the certificate against the name. `allow_private` exists for tests that talk to a
server on 127.0.0.1; production leaves it off (NEWS_ALLOW_PRIVATE, WEBHOOKS_ALLOW_PRIVATE).

Callers turn `Refused` into their own words; this module knows nothing about feeds or webhooks.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from urllib.parse import SplitResult, quote

Address = tuple[int, tuple]  # (address family, sockaddr)


class Refused(Exception):
    """Why a connection was not made. `key`: "private" (detail: the host) or "unreachable"
    (detail: what went wrong, in English words)."""

    def __init__(self, key: str, detail: str):
        self.key, self.detail = key, detail
        super().__init__(f"{key}: {detail}")


def public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """An address on the public internet (an IPv4-mapped IPv6 address is judged as IPv4)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
                                 or ip.is_reserved or ip.is_unspecified)


def host_and_port(parts: SplitResult) -> tuple[str, int]:
    """The ASCII host name (IDNA) and port of an http(s) address; Refused when there is none."""
    scheme = parts.scheme.lower()
    try:
        host = (parts.hostname or "").rstrip(".").encode("idna").decode("ascii")
        port = parts.port or (443 if scheme == "https" else 80)
    except (UnicodeError, ValueError):
        raise Refused("unreachable", "the site name is not valid") from None
    if not host or "@" in parts.netloc:
        raise Refused("unreachable", "the site name is not valid")
    return host, port


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address when the host is written as one (`10.0.0.1`, `[::1]`), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def addresses(host: str, port: int, allow_private: bool) -> list[Address]:
    """Where host:port is, every address checked: one private address refuses the whole name."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Refused("unreachable", "the site name was not found") from None
    found = []
    for family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if not allow_private and not public(ip):
            raise Refused("private", host)
        found.append((family, sockaddr))
    if not found:
        raise Refused("unreachable", "the site name was not found")
    return found


def connect(found: list[Address], timeout: float) -> socket.socket:
    error: OSError | None = None
    for family, sockaddr in found:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(sockaddr)
            return sock
        except OSError as failed:
            sock.close()
            error = failed
    raise error or OSError("no address")


class PinnedHTTP(http.client.HTTPConnection):
    """Connects to the addresses we checked, whatever the name resolves to a moment later."""

    def __init__(self, host: str, port: int, found: list[Address], timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._addresses = found

    def connect(self):
        self.sock = connect(self._addresses, self.timeout)


class PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, found: list[Address], timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._addresses = found

    def connect(self):
        sock = connect(self._addresses, self.timeout)
        try:
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def open_connection(parts: SplitResult, timeout: float, allow_private: bool) -> http.client.HTTPConnection:
    """A connection (not yet opened) to an http(s) address's checked, pinned addresses."""
    host, port = host_and_port(parts)
    found = addresses(host, port, allow_private)
    pinned = PinnedHTTPS if parts.scheme.lower() == "https" else PinnedHTTP
    return pinned(host, port, found, timeout)


def target(parts: SplitResult) -> str:
    """Path and query as ASCII: anything else percent-encoded (already encoded parts kept)."""
    safe = "/:@!$&'()*+,;=-._~%"
    path = quote(parts.path or "/", safe=safe)
    return path + ("?" + quote(parts.query, safe=safe + "?") if parts.query else "")


def status_text(status: int) -> str:
    """"404 Not Found": the standard phrase, never the server's own words."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def retry_after(value: str | None, now: datetime, most: timedelta) -> timedelta | None:
    """A Retry-After header (seconds or an HTTP date) as a wait from now, between 0 and `most`."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        wait = timedelta(seconds=min(int(value), int(most.total_seconds()) + 1))
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        wait = when - now
    return min(max(wait, timedelta(0)), most)
