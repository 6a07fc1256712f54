# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""A real memcached server for tests.

MemcachedServer runs the ``memcached`` binary of the Debian package on a free
loopback port (TCP only), waits until it answers ``version``, and is torn
down with it.  Nothing here is a stand-in: the tests of the mc driver talk to
this server over TCP and read its counters with ``stats``.
"""

from __future__ import print_function

import os
import socket
import tempfile

from nova.tests.zkserver import _Deployment
from nova.tests.zkserver import free_port
from nova.tests.zkserver import ServerProcess

MEMCACHED_DEFAULT = '/usr/bin/memcached'


class MemcachedNotInstalled(Exception):
    pass


def command(host, port, line, terminators=(b'\r\n',), timeout=2.0):
    """Send one text-protocol command; return the reply up to a terminator.

    ``terminators`` are the endings of a complete reply: one line for
    ``version``, ``END\\r\\n`` for ``stats``.
    """
    sock = socket.create_connection((host, port), timeout)
    try:
        sock.sendall(line.encode('ascii') + b'\r\n')
        reply = b''
        while not any(reply.endswith(t) for t in terminators):
            data = sock.recv(65536)
            if not data:
                break
            reply += data
        return reply.decode('utf-8', 'replace')
    finally:
        sock.close()


def _binary():
    """The memcached executable: $MEMCACHED, /usr/bin/memcached or $PATH."""
    candidates = [os.environ.get('MEMCACHED'), MEMCACHED_DEFAULT]
    candidates += [os.path.join(d, 'memcached')
                   for d in os.environ.get('PATH', '').split(os.pathsep) if d]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise MemcachedNotInstalled(
        'memcached not found (looked for $MEMCACHED, %s and $PATH): install '
        'the Debian package "memcached" with tools/install_deps.sh'
        % MEMCACHED_DEFAULT)


class MemcachedServer(ServerProcess, _Deployment):
    """One memcached on a free loopback port, TCP only (``-U 0``).

    max_conns: memcached's ``-c`` (1024 by default; the mc driver holds one
    connection per worker, so 1,000 workers and a reader need more).
    """

    def __init__(self, port=None, host='127.0.0.1', memory_mb=16,
                 base_dir=None, max_conns=None):
        self.host = host
        self.port = port or free_port(host)
        self.memory_mb = memory_mb
        self.max_conns = max_conns
        self._own_dir = base_dir is None
        self.base_dir = base_dir or tempfile.mkdtemp(prefix='mc-test-')
        super(MemcachedServer, self).__init__(
            os.path.join(self.base_dir, 'memcached.log'))

    @property
    def address(self):
        return '%s:%d' % (self.host, self.port)

    def start(self, timeout=10.0):
        if self.running:
            return self
        cmd = [_binary(), '-l', self.host, '-p', str(self.port), '-U', '0',
               '-m', str(self.memory_mb), '-v']
        if self.max_conns:
            cmd += ['-c', str(self.max_conns)]
        if os.getuid() == 0:
            # memcached refuses to run as root unless told which user to be.
            cmd += ['-u', 'root']
        self.launch(cmd)
        self.wait_until_ready(timeout)
        return self

    def answers(self):
        if not self.running:
            return False
        try:
            return self.version() is not None
        except (socket.error, socket.timeout):
            return False

    def wait_until_ready(self, timeout=10.0):
        self.wait_for(self.answers, timeout,
                      'memcached on %s did not answer' % self.address)

    def version(self):
        """The server's version string, or None on a strange reply."""
        reply = command(self.host, self.port, 'version', timeout=0.5)
        if reply.startswith('VERSION '):
            return reply.split(' ', 1)[1].strip()
        return None

    def stats(self):
        """The ``stats`` counters as a dict of str to int (or str)."""
        reply = command(self.host, self.port, 'stats',
                        terminators=(b'END\r\n', b'ERROR\r\n'))
        stats = {}
        for line in reply.splitlines():
            fields = line.split(' ', 2)
            if len(fields) == 3 and fields[0] == 'STAT':
                try:
                    stats[fields[1]] = int(fields[2])
                except ValueError:
                    stats[fields[1]] = fields[2]
        return stats

    def restart(self, timeout=10.0):
        """Stop and start again on the same port, empty."""
        self.stop()
        return self.start(timeout)

    def _processes(self):
        return [self]
