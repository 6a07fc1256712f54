# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""A real RabbitMQ broker for end-to-end tests of Nova's services.

RabbitMQServer runs the Debian ``rabbitmq-server`` package's node on free
loopback ports with a directory of its own (Mnesia data, logs, config, the
Erlang cookie in a private HOME), a node name of its own and its own epmd on
a private port, so that it never touches, nor is disturbed by, the system's
RabbitMQ service.  It waits until the AMQP port answers the protocol header
and is torn down with its directory.  Nothing here is a stand-in: Nova's
services talk to it through oslo.messaging over TCP.
"""

from __future__ import print_function

import binascii
import os
import socket
import tempfile

from nova.tests.zkserver import _Deployment
from nova.tests.zkserver import free_port
from nova.tests.zkserver import ServerProcess

RABBITMQ_SERVER_DEFAULT = '/usr/lib/rabbitmq/bin/rabbitmq-server'
EPMD_CANDIDATES = ('/usr/bin/epmd',)
# The header a client sends first; a broker that serves replies with a
# Connection.Start method frame (frame type 1).
AMQP_HEADER = b'AMQP\x00\x00\x09\x01'


class RabbitMQNotInstalled(Exception):
    pass


def _executable(env_name, candidates, package):
    for path in [os.environ.get(env_name)] + list(candidates):
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise RabbitMQNotInstalled(
        '%s not found (looked for $%s, %s): install the Debian package '
        '"%s" with tools/install_deps.sh'
        % (os.path.basename(candidates[0]), env_name, ', '.join(candidates),
           package))


def amqp_answers(host, port, timeout=1.0):
    """True when ``host:port`` answers the AMQP 0-9-1 header with a frame."""
    try:
        sock = socket.create_connection((host, port), timeout)
    except (socket.error, socket.timeout):
        return False
    try:
        sock.settimeout(timeout)
        sock.sendall(AMQP_HEADER)
        reply = sock.recv(7)
        return len(reply) >= 1 and reply[:1] == b'\x01'
    except (socket.error, socket.timeout):
        return False
    finally:
        sock.close()


class _GroupProcess(ServerProcess):
    """A process with all it starts in its process group: the broker's
    shell script and the Erlang VM it runs are signalled together."""

    def _signal(self, signum):
        if self.running:
            try:
                os.killpg(self.process.pid, signum)
            except OSError:  # the group went away since running said so
                pass


class RabbitMQServer(_Deployment):
    """One RabbitMQ node on free loopback ports, user guest/guest.

    The AMQP listener, the Erlang distribution port and epmd all bind
    127.0.0.1 only.  ``transport_url`` is what oslo.messaging needs.
    """

    user = 'guest'
    password = 'guest'

    def __init__(self, host='127.0.0.1', port=None, base_dir=None,
                 name=None):
        self.host = host
        self.port = port or free_port(host)
        self.dist_port = free_port(host)
        self.epmd_port = free_port(host)
        self._own_dir = base_dir is None
        self.base_dir = base_dir or tempfile.mkdtemp(prefix='rabbit-test-')
        self.node_name = name or 'nova-test-%d@localhost' % self.port
        self.home = os.path.join(self.base_dir, 'home')
        self._broker = _GroupProcess(os.path.join(self.base_dir,
                                                  'rabbit.log'))
        self._epmd = ServerProcess(os.path.join(self.base_dir, 'epmd.log'))

    @property
    def transport_url(self):
        return 'rabbit://%s:%s@%s:%d/' % (self.user, self.password,
                                          self.host, self.port)

    @property
    def running(self):
        return self._broker.running

    @property
    def pid(self):
        return self._broker.pid

    def _write_files(self):
        for sub in ('home', 'mnesia', 'log', 'plugins-expand'):
            path = os.path.join(self.base_dir, sub)
            if not os.path.isdir(path):
                os.makedirs(path)
        cookie = os.path.join(self.home, '.erlang.cookie')
        if not os.path.exists(cookie):
            with open(cookie, 'w') as f:
                f.write(binascii.hexlify(os.urandom(16)).decode('ascii'))
            os.chmod(cookie, 0o400)
        with open(os.path.join(self.base_dir, 'rabbitmq.conf'), 'w') as f:
            f.write('listeners.tcp.1 = %s:%d\n' % (self.host, self.port))
            # guest may log in (it may only from loopback by default; say
            # so outright in case the host is not literally 127.0.0.1).
            f.write('loopback_users = none\n')
            # A test machine's disk may be nearly full; do not block
            # publishers for that.
            f.write('disk_free_limit.absolute = 1MB\n')
        open(os.path.join(self.base_dir, 'enabled_plugins'), 'w').close()
        open(os.path.join(self.base_dir, 'rabbitmq-env.conf'), 'w').close()

    def _environ(self):
        """The variables that make the node ours, as ``env`` arguments."""
        d = self.base_dir
        env = {
            'HOME': self.home,
            'RABBITMQ_NODENAME': self.node_name,
            'RABBITMQ_NODE_IP_ADDRESS': self.host,
            'RABBITMQ_NODE_PORT': str(self.port),
            'RABBITMQ_DIST_PORT': str(self.dist_port),
            'ERL_EPMD_PORT': str(self.epmd_port),
            'ERL_EPMD_ADDRESS': self.host,
            'RABBITMQ_MNESIA_BASE': os.path.join(d, 'mnesia'),
            'RABBITMQ_LOG_BASE': os.path.join(d, 'log'),
            'RABBITMQ_LOGS': '-',
            'RABBITMQ_CONFIG_FILE': os.path.join(d, 'rabbitmq.conf'),
            'RABBITMQ_ENABLED_PLUGINS_FILE': os.path.join(d,
                                                          'enabled_plugins'),
            'RABBITMQ_PLUGINS_EXPAND_DIR': os.path.join(d, 'plugins-expand'),
            # Ours, so that none of /etc/rabbitmq applies.
            'RABBITMQ_CONF_ENV_FILE': os.path.join(d, 'rabbitmq-env.conf'),
            'RABBITMQ_ADVANCED_CONFIG_FILE': os.path.join(d,
                                                          'advanced.config'),
            'ERL_CRASH_DUMP': os.path.join(d, 'erl_crash.dump'),
            'RABBITMQ_PID_FILE': os.path.join(d, 'rabbit.pid'),
            'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS':
                '-kernel inet_dist_use_interface {%s}'
                % self.host.replace('.', ','),
        }
        return ['env'] + ['%s=%s' % item for item in sorted(env.items())]

    def start(self, timeout=60.0, wait=True):
        """Start the node; unless wait is false, until it serves AMQP
        (then wait_until_ready() is the caller's)."""
        if self.running:
            return self
        broker = _executable('RABBITMQ_SERVER', (RABBITMQ_SERVER_DEFAULT,),
                             'rabbitmq-server')
        epmd = _executable('EPMD', EPMD_CANDIDATES, 'erlang-base')
        self._write_files()
        env = self._environ()
        # An epmd of our own, in the foreground, so that the node does not
        # start a daemonised one that would outlive the test.
        self._epmd.launch(env + [epmd, '-port', str(self.epmd_port),
                                 '-address', self.host])
        self._epmd.wait_for(lambda: _port_open(self.host, self.epmd_port),
                            10.0, 'epmd on %s:%d did not listen'
                            % (self.host, self.epmd_port))
        self._broker.launch(env + [broker])
        if wait:
            self.wait_until_ready(timeout)
        return self

    def wait_until_ready(self, timeout=60.0):
        self._broker.wait_for(lambda: amqp_answers(self.host, self.port),
                              timeout, 'RabbitMQ on %s:%d did not answer AMQP'
                              % (self.host, self.port))

    def log_tail(self, lines=30):
        return self._broker.log_tail(lines)

    def stop(self):
        """SIGTERM (the node shuts down), SIGKILL if it lingers."""
        self._broker.stop()
        self._epmd.stop()

    def kill(self):
        """SIGKILL: the node and its epmd vanish as in a power cut."""
        self._broker.kill()
        self._epmd.kill()

    def _processes(self):
        return [self._broker, self._epmd]


def _port_open(host, port):
    try:
        socket.create_connection((host, port), 0.5).close()
        return True
    except (socket.error, socket.timeout):
        return False
