"""The one HTTP client of newsmon: feeds and article pages are fetched through it.

Everything fetched is untrusted, so every request is guarded:

* only ``http`` and ``https``; redirects are followed here (at most ``max_redirects``, loops
  refused), each hop checked again;
* host names are resolved here and *every* address is checked: loopback, private,
  link-local (cloud metadata), shared, multicast, reserved and unspecified addresses are
  refused unless ``HttpConfig.allow`` names the host or a range containing the address.
  The connection then goes to the checked address (the URL is rewritten to the IP, the
  ``Host`` header and the TLS server name keep the host name), so a DNS answer that
  changes between check and connect (DNS rebinding) cannot redirect it;
* one total deadline per request covers resolution, connection, all redirects and the body;
* the *decoded* body is capped; ``gzip``, ``deflate`` and (with the ``brotli`` package, 1.2
  or later) ``br`` are decoded here in bounded steps, so a compression bomb stops at the cap
  with bounded memory. ``br`` is advertised in ``Accept-Encoding`` only when it can be
  decoded that way.

Failures are :class:`~newsmon.errors.FetchError` with a ``kind``, one of the failure classes
of :data:`newsmon.errors.FAILURE_CLASSES` (``dns``, ``refused``, ``timeout``,
``blocked-address``, ``http-4xx``, ...). :func:`fetch_many` returns them in place of
results, so one bad URL never stops a batch.

Example::

    config = HttpConfig.from_env(total_timeout_s=10)
    results = fetch_all([FetchRequest("https://example.org/feed.xml")], config)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import ipaddress
import logging
import os
import re
import socket
import ssl
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from newsmon import __version__
from newsmon.errors import ConfigError, FetchError, connection_failure_kind, root_reason, status_kind

try:
    import brotli
except ImportError:  # optional at run time: without it ``br`` is neither advertised nor accepted
    brotli = None

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_ENV = "NEWSMON_HTTP_ALLOW"
DEFAULT_USER_AGENT = f"newsmon/{__version__} (media monitor; +https://pypi.org/project/newsmon/)"
_DECODE_STEP = 64 * 1024  # most decoded bytes produced per decompression step


def _brotli_is_bounded() -> bool:
    """True if the installed ``brotli`` can decode in bounded steps (``output_buffer_limit``, 1.2+)."""
    if brotli is None:
        return False
    try:
        probe = brotli.Decompressor()
        out = probe.process(brotli.compress(b"newsmon" * 64), output_buffer_limit=_DECODE_STEP)
        return isinstance(out, bytes) and all(
            callable(getattr(probe, name, None)) for name in ("can_accept_more_data", "is_finished")
        )
    except (TypeError, AttributeError, brotli.error):
        return False


BROTLI = _brotli_is_bounded()
ACCEPT_ENCODING = "gzip, deflate, br" if BROTLI else "gzip, deflate"
_CODINGS = ("gzip", "x-gzip", "deflate", "br") if BROTLI else ("gzip", "x-gzip", "deflate")
_DECODE_ERRORS: tuple[type[Exception], ...] = (zlib.error, brotli.error) if BROTLI else (zlib.error,)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_SCHEMES = {"http": 80, "https": 443}
ALLOW_HINT = f" (list the host or range in http_allow or {ALLOW_ENV} if it is meant to be fetched)"
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# The IANA special-purpose blocks that are not globally reachable, refused whatever the
# Python release's `is_global` says (3.11.7 and 3.12.1 count 192.0.0.0/24 as global, and with
# it 192.0.0.192, a cloud metadata address): private-use, shared, loopback, link-local,
# documentation, benchmarking, reserved, multicast, and IPv6's discard, protocol assignments,
# local-use NAT64, unique-local and the 3fff::/20 documentation block.
_NOT_PUBLIC = tuple(
    ipaddress.ip_network(block)
    for block in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/127", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "3fff::/20", "5f00::/16",
        "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
)  # fmt: skip
# IPv4 literals in the forms inet_aton() accepts: 2130706433, 0177.0.0.1, 0x7f.1, 127.1
_LEGACY_IPV4 = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """Limits and policy of the HTTP client; immutable, picklable."""

    total_timeout_s: float = 20.0  # one deadline per request: resolve, connect, redirects, body
    connect_timeout_s: float = 5.0  # per connection attempt
    max_body_bytes: int = 10 * 1024 * 1024  # cap on the decoded body
    max_redirects: int = 5
    user_agent: str = DEFAULT_USER_AGENT
    per_host_concurrency: int = 2
    concurrency: int = 16
    allow: tuple[str, ...] = ()  # host names or CIDR ranges allowed although not public
    max_retry_after_s: float = 86400.0  # cap on an honoured Retry-After: a day, as feed back-off is capped
    verify_tls: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.allow, tuple):
            object.__setattr__(self, "allow", tuple(self.allow))
        for name in ("total_timeout_s", "connect_timeout_s", "max_body_bytes", "per_host_concurrency", "concurrency"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"HTTP setting {name}={getattr(self, name)!r} must be positive")
        if self.max_redirects < 0 or self.max_retry_after_s < 0:
            raise ConfigError("HTTP settings max_redirects and max_retry_after_s must not be negative")
        _allow_rules(self.allow)  # validates the entries

    @classmethod
    def from_env(cls, allow: Iterable[str] = (), **overrides: Any) -> HttpConfig:
        """Build a config from ``overrides``, allowing ``allow`` plus ``NEWSMON_HTTP_ALLOW``.

        ``allow`` is the configured list (``http_allow`` in ``newsmon.toml``); the environment
        variable (comma-separated hosts or CIDR ranges) adds to it, duplicates dropped.
        """
        if isinstance(allow, str):
            raise ConfigError(f"HTTP allow-list must be a list of hosts or CIDR ranges, not the string {allow!r}")
        env = os.environ.get(ALLOW_ENV, "")
        entries = [entry.strip() for entry in (*allow, *env.split(",")) if entry.strip()]
        try:
            return cls(allow=tuple(dict.fromkeys(entries)), **overrides)
        except TypeError as err:
            raise ConfigError(f"invalid HTTP setting ({err}): check the option names") from err


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """One URL to GET, with the validators of a previous response for a conditional GET."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    accept: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A successful response (2xx, or 304 Not Modified)."""

    url: str  # as requested
    final_url: str  # after redirects
    status: int
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes = field(repr=False)  # content-encoding removed; b"" for 304 (not in repr: asyncio
    # formats a finished task's result, this list, when it sets and restores signal handlers)
    etag: str | None
    last_modified: str | None
    not_modified: bool
    elapsed_s: float
    redirects: int


@dataclass(frozen=True, slots=True)
class _AllowRules:
    names: frozenset[str]
    networks: tuple[IPNetwork, ...]


@dataclass(frozen=True, slots=True)
class _Target:
    """One checked hop: the URL as httpx sends it, and the host to resolve or the literal address."""

    text: str
    url: httpx.URL
    host: str  # ASCII (IDNA) host name or IP text, lower case, without brackets or trailing dot
    port: int
    literal: IPAddress | None
    host_header: str  # host[:port] as the server should see it


# --------------------------------------------------------------------------- address policy


def is_public_address(ip: IPAddress) -> bool:
    """True if ``ip`` is a globally routable unicast address that may be fetched by default.

    IPv4 addresses embedded in IPv6 (IPv4-mapped, NAT64 ``64:ff9b::/96``, 6to4) are judged by
    their IPv4 part; Teredo addresses are always refused.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public_address(ip.ipv4_mapped)
        if ip in _NAT64:
            return is_public_address(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.teredo is not None:
            return False
        if ip.sixtofour is not None and not is_public_address(ip.sixtofour):
            return False
        if ip.is_site_local:
            return False
    if any(ip in block for block in _NOT_PUBLIC if block.version == ip.version):
        return False
    return ip.is_global and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


@functools.lru_cache(maxsize=64)
def _allow_rules(allow: tuple[str, ...]) -> _AllowRules:
    """Split the allow-list into host names and networks; ConfigError for a malformed entry."""
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for raw in allow:
        entry = raw.strip().lower().strip("[]")
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        if "/" in entry or any(c.isspace() for c in entry):
            raise ConfigError(
                f"HTTP allow entry {raw!r} is neither a host name nor a CIDR range: fix it in http_allow"
                " (newsmon.toml) or NEWSMON_HTTP_ALLOW"
            )
        names.add(_normal_host(entry))
    return _AllowRules(frozenset(names), tuple(networks))


def check_allow_list(config: HttpConfig) -> None:
    """Fail (ConfigError, one line) on a malformed allow-list entry now, not at the first fetch."""
    _allow_rules(config.allow)


def _normal_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _address_allowed(ip: IPAddress, host: str, config: HttpConfig) -> bool:
    """True if ``ip`` (reached through ``host``) is public or opened by the allow-list."""
    if is_public_address(ip):
        return True
    rules = _allow_rules(config.allow)
    if host in rules.names:
        return True
    candidates: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        candidates.append(ip.ipv4_mapped)
    return any(c in net for c in candidates for net in rules.networks)


def _literal_address(host: str) -> IPAddress | None:
    """The address ``host`` denotes if it is an IP literal (including legacy IPv4 forms), else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _LEGACY_IPV4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


# --------------------------------------------------------------------------- URL checks


def check_url(url: str, config: HttpConfig) -> None:
    """Refuse ``url`` unless it is an http(s) URL with a host that is not a blocked address literal.

    Raises FetchError ``scheme`` for other schemes (file, ftp, data, javascript, ...), a
    missing host or an unparsable URL, and ``blocked`` for a literal non-public address not
    opened by ``config.allow``. Host names are not resolved here; fetching checks their addresses.
    """
    _parse_target(url, config, url)


def _parse_target(text: str, config: HttpConfig, requested: str) -> _Target:
    where = "" if text == requested else f" (redirected to {text})"
    try:
        parts = urlsplit(text.strip())
        early_host = parts.hostname
    except ValueError as err:
        raise FetchError("scheme", requested, f"not a valid URL{where}: {err}") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        shown = f"{scheme}:" if scheme else "no scheme"
        raise FetchError("scheme", requested, f"only http and https URLs are fetched, not {shown}{where}")
    if early_host:  # refuse blocked literals even in forms httpx cannot parse (0177.0.0.1)
        _check_literal(_literal_address(_normal_host(early_host)), early_host, config, requested, where)
    try:
        url = httpx.URL(text.strip())
    except (httpx.InvalidURL, ValueError) as err:
        raise FetchError("scheme", requested, f"not a valid URL{where}: {err}") from None
    if url.scheme not in _SCHEMES:
        raise FetchError("scheme", requested, f"only http and https URLs are fetched{where}")
    try:
        host = _normal_host(url.raw_host.decode("ascii"))
    except UnicodeDecodeError:
        raise FetchError("scheme", requested, f"not a valid host name{where}") from None
    if not host:
        raise FetchError("scheme", requested, f"the URL has no host{where}")
    literal = _literal_address(host)
    _check_literal(literal, host, config, requested, where)
    port = url.port if url.port is not None else _SCHEMES[url.scheme]
    return _Target(text, url, host, port, literal, url.netloc.decode("ascii"))


def _check_literal(literal: IPAddress | None, host: str, config: HttpConfig, requested: str, where: str) -> None:
    if literal is not None and not _address_allowed(literal, _normal_host(host), config):
        raise FetchError("blocked-address", requested, f"address {literal} is not public{where}{ALLOW_HINT}")


# --------------------------------------------------------------------------- resolution


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """All addresses of ``host`` (resolver order, duplicates removed); raises OSError on failure.

    Runs ``getaddrinfo`` in a worker thread so that the event loop is never blocked.
    """
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[IPAddress] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in out:
            out.append(ip)
    return out


async def _checked_addresses(target: _Target, config: HttpConfig, requested: str) -> list[IPAddress]:
    """The addresses to connect to for ``target``, every one of them checked."""
    if target.literal is not None:
        return [target.literal]
    try:
        addresses = await resolve_host(target.host, target.port)
    except (OSError, UnicodeError) as err:
        raise FetchError("dns", requested, f"cannot resolve {target.host}: {err}", host=_endpoint(target)) from None
    if not addresses:
        raise FetchError("dns", requested, f"{target.host} has no IPv4 or IPv6 address", host=_endpoint(target))
    for ip in addresses:
        if not _address_allowed(ip, target.host, config):
            message = f"{target.host} resolves to non-public address {ip}{ALLOW_HINT}"
            raise FetchError("blocked-address", requested, message)
    return addresses


# --------------------------------------------------------------------------- body decoding


class _Decoder:
    """Incremental Content-Encoding decoder that yields at most about ``_DECODE_STEP`` bytes at a time."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._gzip = coding in ("gzip", "x-gzip")
        self._first = True  # no output yet: a "deflate" body may still turn out to be raw DEFLATE
        self._trailing = False  # past the end of the stream: the rest is ignored
        self._fed = False  # any encoded byte seen yet
        self._inflater: Any = self._new_inflater()

    def _new_inflater(self) -> Any:
        if self.coding == "identity":
            return None
        if self.coding == "br":
            return brotli.Decompressor()
        return zlib.decompressobj(zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decoded pieces of ``data``; raises zlib.error or brotli.error for corrupt input."""
        if self._inflater is None:
            if data:
                yield data
            return
        if self.coding == "br":
            yield from self._unbrotli(data)
            return
        while data and not self._trailing:
            if self._inflater.eof:
                if not (self._gzip and data[:1] == b"\x1f"):  # not another gzip member: ignore the rest
                    self._trailing = True
                    return
                self._inflater = self._new_inflater()
            try:
                yield from self._inflate(data)
            except zlib.error:
                if not self._first or self._gzip:
                    raise
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # deflate without the zlib header
                yield from self._inflate(data)
            self._first = False
            data = self._inflater.unused_data if self._inflater.eof else b""

    def finish(self) -> None:
        """Check that the body ended where its encoding ends; raises brotli.error for a cut ``br`` body.

        An empty body is empty whatever its encoding; a cut gzip or deflate body keeps what
        was decoded.
        """
        if self.coding == "br" and self._fed and not self._inflater.is_finished():
            raise brotli.error("the brotli stream is cut off")

    def _unbrotli(self, data: bytes) -> Iterator[bytes]:
        """Brotli in bounded steps: the decoder keeps the input and hands out its output piece by piece.

        Each ``process`` call returns at most about ``_DECODE_STEP`` bytes; the output is drained
        with empty input until there is none, so one small chunk of a bomb never decodes at once.
        """
        decoder = self._inflater
        if not data:
            return
        self._fed = True
        if decoder.is_finished():
            raise brotli.error("data after the end of the brotli stream")
        out = decoder.process(data, output_buffer_limit=_DECODE_STEP)
        while out:
            yield out
            if decoder.is_finished():
                return
            out = decoder.process(b"", output_buffer_limit=_DECODE_STEP)
        if not (decoder.is_finished() or decoder.can_accept_more_data()):
            raise brotli.error("the decoder stopped with input left and no output")

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        inflater = self._inflater
        while True:
            out = inflater.decompress(data, _DECODE_STEP)
            if out:
                self._first = False
                yield out
            data = inflater.unconsumed_tail
            if inflater.eof or (not data and len(out) < _DECODE_STEP):
                return


def _decoder_for(content_encoding: str | None, requested: str) -> _Decoder:
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return _Decoder("identity")
    if len(codings) == 1 and codings[0] in _CODINGS:
        return _Decoder(codings[0])
    raise FetchError("encoding", requested, f"unsupported content-encoding {content_encoding!r}")


async def _read_body(response: httpx.Response, requested: str, config: HttpConfig) -> bytes:
    """The decoded body, refused as ``too-large`` as soon as it would pass the cap."""
    cap = config.max_body_bytes
    decoder = _decoder_for(response.headers.get("content-encoding"), requested)
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > cap:
        raise FetchError("too-large", requested, f"content-length {int(declared)} exceeds the {cap}-byte cap")
    body = bytearray()
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > cap:
            raise FetchError("too-large", requested, f"body exceeds the {cap}-byte cap")
        try:
            for piece in decoder.feed(chunk):
                if len(body) + len(piece) > cap:
                    raise FetchError("too-large", requested, f"decoded body exceeds the {cap}-byte cap")
                body += piece
        except _DECODE_ERRORS as err:
            raise FetchError("encoding", requested, f"corrupt {decoder.coding} body: {err}") from None
    try:
        decoder.finish()
    except _DECODE_ERRORS as err:
        raise FetchError("encoding", requested, f"corrupt {decoder.coding} body: {err}") from None
    return bytes(body)


# --------------------------------------------------------------------------- status handling


def parse_retry_after(value: str | None, cap_s: float, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delay seconds or HTTP-date), clamped to [0, cap_s]."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), cap_s)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(delta, 0.0), cap_s)


def _status_error(response: httpx.Response, requested: str, hop: str, config: HttpConfig) -> FetchError:
    status = response.status_code
    where = "" if hop == requested else f" from {hop}"
    message = f"HTTP {status} {response.reason_phrase}".rstrip() + where
    retry_after = None
    if status in (429, 503):
        retry_after = parse_retry_after(response.headers.get("retry-after"), config.max_retry_after_s)
    kind = status_kind(status)
    if kind == "protocol" and 300 <= status < 400:
        message += " (not a redirect that can be followed)"
    return FetchError(kind, requested, message, status=status, retry_after_s=retry_after)


# --------------------------------------------------------------------------- transport


@functools.cache
def _ssl_context(verify: bool) -> ssl.SSLContext:
    return httpx.create_ssl_context(verify=verify, trust_env=False)


def make_ssl_context(config: HttpConfig) -> ssl.SSLContext:
    """The TLS context: certificates verified against certifi unless ``verify_tls`` is off.

    Built once per process (loading the CA bundle takes about 45 ms); contexts are safe to share."""
    return _ssl_context(config.verify_tls)


class _PerServerTransport(httpx.AsyncBaseTransport):
    """Routes requests to one connection pool per server: address, port and TLS server name.

    Requests go to IP addresses, and httpcore reuses a connection for any request to the same
    IP and port; separate pools keep a TLS connection verified for one host from carrying
    another host's requests. Small pools are also cheaper: httpcore checks every connection of
    a pool for expiry on each request, so one pool for all servers costs more per request the
    more servers a run talks to.
    """

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._ssl_context = ssl_context
        self._pools: dict[tuple[str, str, int | None, str], httpx.AsyncHTTPTransport] = {}

    @staticmethod
    def pool_key(request: httpx.Request) -> tuple[str, str, int | None, str]:
        """(scheme, address, port, TLS server name): requests with the same key share connections
        (httpx gives a written default port as None, so ``:443`` and no port are the same)."""
        url = request.url
        return url.scheme, url.host, url.port, str(request.extensions.get("sni_hostname") or "")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = self.pool_key(request)
        pool = self._pools.get(key)
        if pool is None:
            pool = httpx.AsyncHTTPTransport(verify=self._ssl_context, http2=False, trust_env=False, retries=0)
            self._pools[key] = pool
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()


_LOCATION = "x-newsmon-location"  # where a redirect's Location is kept, out of httpx's sight


async def _take_location(response: httpx.Response) -> None:
    """Keep a redirect's Location from httpx, which would parse it itself.

    httpx builds the next request of every redirect even when it does not follow them, and
    refuses forms such as ``0177.0.0.1`` with a protocol error before newsmon could judge the
    address. :func:`_follow` reads the Location from ``_LOCATION`` and checks it like any URL.
    """
    if response.status_code in REDIRECT_STATUSES and "location" in response.headers:
        response.headers[_LOCATION] = response.headers["location"]
        del response.headers["location"]


def _client(config: HttpConfig) -> httpx.AsyncClient:
    total = config.total_timeout_s
    return httpx.AsyncClient(
        transport=_PerServerTransport(make_ssl_context(config)),
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(total, connect=min(config.connect_timeout_s, total)),
        headers={"User-Agent": config.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),  # never store cookies
        event_hooks={"response": [_take_location]},
    )


def _transport_error(err: Exception, requested: str, target: _Target) -> FetchError:
    where = "" if target.text == requested else f" (at {target.text})"
    detail = str(err) or type(err).__name__
    if isinstance(err, httpx.ConnectTimeout):
        return FetchError("timeout", requested, f"connection to {target.host} timed out{where}", host=_endpoint(target))
    if isinstance(err, httpx.TimeoutException):
        return FetchError("timeout", requested, f"{detail}{where}", host=_endpoint(target))
    if isinstance(err, httpx.ConnectError) and _is_tls_error(err):
        return FetchError("tls", requested, f"TLS with {target.host} failed: {detail}{where}", host=_endpoint(target))
    if isinstance(err, httpx.NetworkError):  # connect, read, write, close
        return FetchError("connect", requested, f"{detail}{where}", host=_endpoint(target))
    if isinstance(err, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
        return FetchError("scheme", requested, f"{detail}{where}")
    return FetchError("protocol", requested, f"{type(err).__name__}: {detail}{where}")


def _endpoint(target: _Target) -> str:
    """``host:port`` of a hop, as :attr:`FetchError.host` names it."""
    return f"{target.host}:{target.port}"


def _is_tls_error(err: BaseException) -> bool:
    return connection_failure_kind(err) == "tls"


async def _send(
    client: httpx.AsyncClient, target: _Target, addresses: list[IPAddress], request: FetchRequest
) -> httpx.Response:
    """Send the GET to the first checked address that accepts a connection; headers only."""
    headers = {"Host": target.host_header, "Accept": request.accept or "*/*"}
    if request.etag:
        headers["If-None-Match"] = request.etag
    if request.last_modified:
        headers["If-Modified-Since"] = request.last_modified
    extensions = {"sni_hostname": target.host} if target.url.scheme == "https" else {}
    failures: list[str] = []
    kinds: set[str] = set()
    for ip in addresses:
        outgoing = client.build_request(
            "GET", target.url.copy_with(host=str(ip)), headers=headers, extensions=extensions
        )
        try:
            return await client.send(outgoing, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as err:
            log.debug("connect to %s for %s failed: %s", ip, target.text, err)
            kind = connection_failure_kind(err)
            if kind == "tls":
                raise _transport_error(err, request.url, target) from None
            timed_out = isinstance(err, httpx.ConnectTimeout)
            kinds.add("timeout" if timed_out else kind)
            failures.append(f"{ip}: {'timed out' if timed_out else root_reason(err)}")
    where = "" if target.text == request.url else f" (at {target.text})"
    kind = kinds.pop() if len(kinds) == 1 else "connect"
    message = f"cannot connect to {target.host} ({'; '.join(failures)}){where}"
    raise FetchError(kind, request.url, message, host=_endpoint(target))


# --------------------------------------------------------------------------- fetching


async def _follow(
    client: httpx.AsyncClient, request: FetchRequest, first: _Target, config: HttpConfig, start: float
) -> FetchResult:
    """GET ``first`` and follow redirects; every hop resolved and checked."""
    target = first
    seen = {str(first.url.copy_with(fragment=None))}
    redirects = 0
    while True:
        addresses = await _checked_addresses(target, config, request.url)
        response = await _send(client, target, addresses, request)
        try:
            location = response.headers.get(_LOCATION, "").strip()
            if response.status_code not in REDIRECT_STATUSES or not location:
                return await _finish(response, request, target, redirects, config, start)
        except httpx.HTTPError as err:
            raise _transport_error(err, request.url, target) from None
        finally:
            await response.aclose()
        next_text = urljoin(str(target.url), location)
        target = _parse_target(next_text, config, request.url)
        key = str(target.url.copy_with(fragment=None))
        if key in seen:
            raise FetchError("redirects", request.url, f"redirect loop at {next_text}")
        if redirects >= config.max_redirects:
            raise FetchError("redirects", request.url, f"more than {config.max_redirects} redirects")
        seen.add(key)
        redirects += 1


async def _finish(
    response: httpx.Response, request: FetchRequest, target: _Target, redirects: int, config: HttpConfig, start: float
) -> FetchResult:
    status = response.status_code
    if status != 304 and not 200 <= status < 300:
        raise _status_error(response, request.url, target.text, config)
    body = b"" if status == 304 else await _read_body(response, request.url, config)
    headers = dict(response.headers.items())
    return FetchResult(
        url=request.url,
        final_url=request.url if redirects == 0 else target.text,
        status=status,
        headers=headers,
        body=body,
        etag=headers.get("etag"),
        last_modified=headers.get("last-modified"),
        not_modified=status == 304,
        elapsed_s=time.monotonic() - start,
        redirects=redirects,
    )


async def _fetch(client: httpx.AsyncClient, request: FetchRequest, first: _Target, config: HttpConfig) -> FetchResult:
    start = time.monotonic()
    try:
        async with asyncio.timeout(config.total_timeout_s):
            return await _follow(client, request, first, config, start)
    except TimeoutError:
        raise FetchError("timeout", request.url, f"no complete response within {config.total_timeout_s:g} s") from None
    except httpx.HTTPError as err:
        raise _transport_error(err, request.url, first) from None


async def _guarded(
    client: httpx.AsyncClient,
    request: FetchRequest,
    config: HttpConfig,
    overall: asyncio.Semaphore,
    per_host: dict[str, asyncio.Semaphore],
) -> FetchResult | FetchError:
    """One request under the concurrency limits; every failure returned, never raised."""
    try:
        first = _parse_target(request.url, config, request.url)
        host_slot = per_host.setdefault(first.host, asyncio.Semaphore(config.per_host_concurrency))
        async with host_slot, overall:
            result = await _fetch(client, request, first, config)
        log.debug("GET %s -> %d in %.2f s", request.url, result.status, result.elapsed_s)
        return result
    except FetchError as err:
        log.debug("GET %s failed: %s", request.url, err)
        return err
    except Exception as err:  # a single request must never break the batch
        stop = interruption(err)
        if stop is not None:  # a signal (SIGTERM, Ctrl-C) that a library turned into an error
            raise stop from None
        log.warning("GET %s failed unexpectedly", request.url, exc_info=True)
        return FetchError("protocol", request.url, f"unexpected {type(err).__name__}: {err}")


def interruption(err: BaseException) -> BaseException | None:
    """The signal-borne exception (not an ``Exception``: a termination signal, Ctrl-C) behind
    ``err``, if any. A signal raised while anyio's cancel scopes are open can surface as their
    ``RuntimeError`` ("exit a cancel scope that isn't the current task's"), with the signal only
    in its context; a request that fails that way must stop the run, not count as a failure."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if not isinstance(current, Exception):
            return current
        current = current.__cause__ or current.__context__
    return None


async def fetch_many(requests: Sequence[FetchRequest], config: HttpConfig) -> list[FetchResult | FetchError]:
    """GET every request concurrently; results (or FetchErrors) in the order of ``requests``.

    At most ``config.concurrency`` requests are in flight, and ``config.per_host_concurrency``
    per host; the total deadline of a request starts when it gets its slots.
    """
    if not requests:
        return []
    overall = asyncio.Semaphore(config.concurrency)
    per_host: dict[str, asyncio.Semaphore] = {}
    with signals_kept(asyncio.get_running_loop()):
        async with _client(config) as client:
            return list(await asyncio.gather(*(_guarded(client, r, config, overall, per_host) for r in requests)))


@contextlib.contextmanager
def signals_kept(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Re-raise, on leaving, a signal-borne exception (a termination signal, Ctrl-C) that the
    loop's own machinery caught: raised while a socket transport was writing, it is taken for a
    "fatal write error", logged with a traceback and swallowed, and the run would go on as if
    nothing had happened. Other errors reach the loop's handler as before."""
    caught: list[BaseException] = []
    previous = loop.get_exception_handler()

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        signal_borne = interruption(error) if isinstance(error, BaseException) else None
        if signal_borne is not None:
            caught.append(signal_borne)
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)
    try:
        yield
    finally:
        loop.set_exception_handler(previous)
    if caught:
        raise caught[0]


def fetch_all(requests: Sequence[FetchRequest], config: HttpConfig) -> list[FetchResult | FetchError]:
    """Synchronous :func:`fetch_many` (runs its own event loop, in a helper thread if one is running)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(fetch_many(requests, config))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(fetch_many(requests, config))).result()


def fetch_one(request: FetchRequest, config: HttpConfig) -> FetchResult:
    """GET one URL synchronously; raises FetchError on any failure."""
    result = fetch_all([request], config)[0]
    if isinstance(result, FetchError):
        raise result
    return result


__all__ = [
    "FetchRequest",
    "FetchResult",
    "HttpConfig",
    "check_url",
    "fetch_all",
    "fetch_many",
    "fetch_one",
    "is_public_address",
    "parse_retry_after",
    "resolve_host",
]
