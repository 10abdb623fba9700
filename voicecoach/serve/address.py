"""Where the server listens: the machine's own address on the local network, and the bound socket.

The address is read from the network interfaces (no packet leaves the machine,
no outside server is asked), preferring a private range (192.168/16, 10/8,
172.16/12), which is where a phone on the same Wi-Fi sees this machine.
"""
from __future__ import annotations

import errno
import ipaddress
import socket
import struct
import sys

from ..errors import EnvironmentProblem, SettingError

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8765
_SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address


def _interface_addresses() -> list[str]:
    """Every IPv4 address of this machine's interfaces (Linux ioctl; elsewhere what the host name resolves to)."""
    found: list[str] = []
    if sys.platform.startswith("linux"):
        import fcntl

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _, name in socket.if_nameindex():
                try:
                    packed = fcntl.ioctl(s.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
                except OSError:
                    continue  # an interface without an IPv4 address (down, or IPv6 only)
                found.append(socket.inet_ntoa(packed[20:24]))
    try:
        found += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    except OSError:
        pass
    return list(dict.fromkeys(found))


def lan_address() -> str:
    """This machine's address on the local network: a private one first, else any other, else loopback."""
    addresses = [ipaddress.IPv4Address(a) for a in _interface_addresses()]
    usable = [a for a in addresses if not a.is_loopback and not a.is_link_local and not a.is_unspecified]
    private = [a for a in usable if a.is_private]
    best = (private or usable or [ipaddress.IPv4Address(LOOPBACK)])[0]
    return str(best)


def bind(host: str, port: int, backlog: int = 64) -> socket.socket:
    """A listening TCP socket on host:port; one clear error for an address not this machine's or a port in use."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise SettingError("host", host, "not an address or a name this machine can resolve") from None
    family, kind, proto, _, where = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(where)
        sock.listen(backlog)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise EnvironmentProblem(f"port {port} on {host} is in use by another program; "
                                     "choose another port") from None
        if err.errno == errno.EADDRNOTAVAIL:
            raise SettingError("host", host, "not an address of this machine; leave the host out "
                                             "for its address on the local network") from None
        if err.errno == errno.EACCES:
            raise EnvironmentProblem(f"port {port} needs more rights than this user has; "
                                     "choose a port above 1023") from None
        raise EnvironmentProblem(f"cannot listen on {host}:{port}: {(err.strerror or str(err)).lower()}") from None
    sock.set_inheritable(True)
    return sock
