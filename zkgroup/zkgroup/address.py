"""A ZooKeeper address: ``host:port[,host:port...][/chroot]``.

Checked before a session is opened, so that a typo fails at start with a
message naming the bad part instead of as a C client error (or endless
reconnects).  IPv6 hosts are written ``[::1]:2181``.
"""

import socket


class InvalidAddress(ValueError):
    def __init__(self, address, reason):
        ValueError.__init__(self, '%r: %s' % (address, reason))
        self.address = address
        self.reason = reason


def parse(address):
    """``(servers, chroot)``: [(host, port), ...] and '' or '/path'."""
    if not isinstance(address, str) or not address.strip():
        raise InvalidAddress(address, 'no server given (host1:port,'
                             'host2:port[/chroot])')
    hosts, slash, chroot = address.strip().partition('/')
    chroot = slash + chroot
    if chroot and (chroot == '/' or chroot.endswith('/') or
                   '//' in chroot):
        raise InvalidAddress(address, 'the chroot %s must look like /path, '
                             'without a trailing slash' % chroot)
    servers = []
    for entry in hosts.split(','):
        entry = entry.strip()
        host, colon, port = entry.rpartition(':')
        if not colon or not host:
            raise InvalidAddress(address, '%r is not host:port' % entry)
        if host.startswith('[') and host.endswith(']'):
            host = host[1:-1]
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise InvalidAddress(address, 'the port %r of %r is not a number '
                                 'from 1 to 65535' % (port, entry))
        if not host or any(c.isspace() or c in '/[]' for c in host):
            raise InvalidAddress(address, '%r is not a host name or address'
                                 % host)
        servers.append((host, int(port)))
    return servers, chroot


def unresolvable(address):
    """The hosts of ``address`` that do not resolve now (a name server
    that is down at start must not keep a service from starting: callers
    say so and keep trying)."""
    try:
        servers = parse(address)[0]
    except InvalidAddress:
        return []
    hosts = []
    for host, port in servers:
        try:
            socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except socket.gaierror:
            hosts.append(host)
    return hosts
