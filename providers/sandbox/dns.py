"""A loopback DNS server answering from a zone given as a dict, over UDP and TCP (dnspython
builds and parses the wire format). The tests and the demo point the sender-authentication
checks at it (SENDER_AUTH_NAMESERVERS), so they never ask the real DNS.

The zone maps a name to its records by type, or to a failure to act out::

    {
        "shop.example": {"TXT": ["v=spf1 include:sendgrid.net -all"], "MX": ["10 mx.shop."]},
        "s1._domainkey.shop.example": {"CNAME": ["s1.domainkey.u1.wl.sendgrid.net."]},
        "_dmarc.slow.example": "TIMEOUT",     # never answered: the client times out
        "_dmarc.broken.example": "SERVFAIL",  # answered with SERVFAIL
    }

Names are case-insensitive, with or without the final dot. A name in the zone without the
asked type answers NOERROR with no records; a name not in it NXDOMAIN. A CNAME answers any
type, followed inside the zone. Record values are in zone-file text form (a TXT value is one
string: it is quoted and split into 255-byte pieces here).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import struct
import threading
from collections.abc import Mapping
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

logger = logging.getLogger(__name__)

TIMEOUT = "TIMEOUT"
SERVFAIL = "SERVFAIL"
TTL = 300
MAX_CNAME_CHAIN = 8

Zone = Mapping[str, Any]


def _key(name: str | dns.name.Name) -> str:
    return str(name).rstrip(".").lower()


def _txt(value: str) -> str:
    """A TXT value as zone-file text: quoted pieces of at most 255 bytes (RFC 1035 strings)."""
    data = value.encode("utf-8")
    pieces = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
    return " ".join(
        '"' + piece.decode("utf-8", "replace").replace("\\", "\\\\").replace('"', '\\"') + '"'
        for piece in pieces
    )


class DnsZoneServer:
    """Serve `zone` on 127.0.0.1 (UDP and TCP on the same port). `set_zone` swaps it while
    running; `queries` lists what was asked (name, type), oldest first."""

    def __init__(self, zone: Zone | None = None):
        self._lock = threading.Lock()
        self._zone: dict[str, Any] = {}
        self.queries: list[tuple[str, str]] = []
        self.set_zone(zone or {})
        self._udp: socketserver.ThreadingUDPServer | None = None
        self._tcp: socketserver.ThreadingTCPServer | None = None

    # --- the zone ----------------------------------------------------------------------------
    def set_zone(self, zone: Zone) -> None:
        with self._lock:
            self._zone = {_key(name): records for name, records in zone.items()}

    def update(self, zone: Zone) -> None:
        """Add or replace names (None as the records removes the name)."""
        with self._lock:
            for name, records in zone.items():
                if records is None:
                    self._zone.pop(_key(name), None)
                else:
                    self._zone[_key(name)] = records

    # --- life cycle --------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> DnsZoneServer:
        """Listen on `port` (0: a free one; UDP and TCP take the same number)."""
        for _ in range(20):
            udp = _UdpServer((host, port), _UdpHandler, self)
            try:
                tcp = _TcpServer((host, udp.server_address[1]), _TcpHandler, self)
            except OSError:
                udp.server_close()
                if port:
                    raise
                continue
            self._udp, self._tcp = udp, tcp
            break
        else:
            raise OSError("no port free for both UDP and TCP")
        for server, name in ((self._udp, "dns-udp"), (self._tcp, "dns-tcp")):
            threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
        return self

    def stop(self) -> None:
        for server in (self._udp, self._tcp):
            if server is not None:
                server.shutdown()
                server.server_close()

    @property
    def port(self) -> int:
        return self._udp.server_address[1]

    @property
    def nameserver(self) -> str:
        """As SENDER_AUTH_NAMESERVERS takes it: host:port."""
        host, port = self._udp.server_address[:2]
        return f"{host}:{port}"

    # --- answering ---------------------------------------------------------------------------
    def answer(self, wire: bytes) -> bytes | None:
        """The response to a query in wire format; None: stay silent (TIMEOUT, or garbage)."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if not query.question:
            return None
        question = query.question[0]
        qname, qtype = question.name, question.rdtype
        with self._lock:
            self.queries.append((_key(qname), dns.rdatatype.to_text(qtype)))
            zone = dict(self._zone)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        name, hops = qname, 0
        while True:
            entry = zone.get(_key(name))
            if entry == TIMEOUT:
                return None
            if entry == SERVFAIL:
                response.set_rcode(dns.rcode.SERVFAIL)
                break
            if entry is None:
                # NXDOMAIN only when nothing was found at all (a CNAME to outside the zone
                # answers with the CNAME: the resolver takes it from there).
                if hops == 0:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                break
            records = {str(t).upper(): v for t, v in entry.items()}
            if qtype != dns.rdatatype.CNAME and "CNAME" in records and hops < MAX_CNAME_CHAIN:
                rrset = _rrset(name, "CNAME", records["CNAME"][:1])
                response.answer.append(rrset)
                name, hops = rrset[0].target, hops + 1
                continue
            values = records.get(dns.rdatatype.to_text(qtype), [])
            if values:
                response.answer.append(_rrset(name, dns.rdatatype.to_text(qtype), values))
            break
        return response.to_wire()


def _rrset(name: dns.name.Name, rdtype: str, values: list[str]) -> dns.rrset.RRset:
    texts = [_txt(v) if rdtype == "TXT" else v for v in values]
    return dns.rrset.from_text_list(name, TTL, "IN", rdtype, texts)


class _UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, zone_server: DnsZoneServer):
        self.zone_server = zone_server
        super().__init__(address, handler)


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, zone_server: DnsZoneServer):
        self.zone_server = zone_server
        super().__init__(address, handler)


class _UdpHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        answer = self.server.zone_server.answer(data)
        if answer is None:
            return
        query = dns.message.from_wire(data)
        limit = max(512, query.payload) if query.edns >= 0 else 512
        if len(answer) > limit:  # too long for UDP: truncated, the client asks over TCP
            short = dns.message.make_response(query)
            short.flags |= dns.flags.TC
            answer = short.to_wire()
        with contextlib.suppress(OSError):
            sock.sendto(answer, self.client_address)


class _TcpHandler(socketserver.BaseRequestHandler):
    def handle(self):
        conn: socket.socket = self.request
        conn.settimeout(5)
        with contextlib.suppress(OSError):
            while True:
                header = _read_exactly(conn, 2)
                if header is None:
                    return
                (length,) = struct.unpack("!H", header)
                data = _read_exactly(conn, length)
                if data is None:
                    return
                answer = self.server.zone_server.answer(data)
                if answer is None:
                    return
                conn.sendall(struct.pack("!H", len(answer)) + answer)


def _read_exactly(conn: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data
