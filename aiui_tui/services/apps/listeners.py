"""Which addresses listen on a port, read from /proc/net/tcp and /proc/net/tcp6 (pure parsing).

An app on the host network shares the host's sockets: whatever its command says, what matters is
what it actually listens on. A UI told to listen on 127.0.0.1 that binds 0.0.0.0 anyway is open to
the network; these functions let the app service see that after the UI answered.
"""

from __future__ import annotations

import ipaddress
import socket

LISTEN = "0A"  # the TCP state column of /proc/net/tcp


def listening_addresses(proc_net_tcp: str, port: int) -> set[str]:
    """Local addresses in LISTEN state on `port`, from the text of /proc/net/tcp and/or tcp6."""
    found: set[str] = set()
    for line in proc_net_tcp.splitlines():
        fields = line.split()
        if len(fields) < 4 or ":" not in fields[1] or fields[3] != LISTEN:
            continue
        address, _, port_hex = fields[1].rpartition(":")
        try:
            if int(port_hex, 16) != port:
                continue
            found.add(_address(address))
        except ValueError:
            continue
    return found


def exposed(addresses: set[str]) -> set[str]:
    """The addresses that other machines could reach: anything but loopback."""
    return {a for a in addresses if not is_loopback(a)}


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is loopback too
    return (mapped or ip).is_loopback


def port_taken(host: str, port: int) -> bool:
    """True when something on this machine already listens on host:port (or on all addresses).

    SO_REUSEADDR lets the bind succeed past closed connections still in TIME_WAIT, so only a
    listening socket makes it fail. Blocking (cheap): call from a thread.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _address(hex_address: str) -> str:
    """/proc's hex form (each 32-bit word in host byte order, little-endian here) as text."""
    raw = bytes.fromhex(hex_address)
    if len(raw) not in (4, 16):
        raise ValueError(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))
