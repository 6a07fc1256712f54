# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Real ZooKeeper servers for tests and for a developer's machine.

A standalone server (ZooKeeperServer) or a quorum (ZooKeeperEnsemble) runs from
the Debian ``zookeeper`` package on loopback ports, each with its own data
directory, and is torn down with it.  Nothing here is a stand-in: the tests of
the zk driver talk to these servers over TCP.
"""

from __future__ import print_function

import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


ZK_CLASSPATH_DEFAULT = '/etc/zookeeper/conf:/usr/share/java/zookeeper.jar'
STANDALONE_MAIN = 'org.apache.zookeeper.server.ZooKeeperServerMain'
QUORUM_MAIN = 'org.apache.zookeeper.server.quorum.QuorumPeerMain'
# Debian's zookeeper.jar lists the Netty jars the plain factory needs, not
# netty-codec, which Netty's SslHandler needs (same package, libnetty-java).
TLS_CLASSPATH = ':/usr/share/java/netty-codec.jar'
# Debian's classpath has no SLF4J binding: ZooKeeper's own log is empty.
# tools/zkserver adds log4j's, so that a server that dies says why; the
# test fixtures go without (thousands of sessions' INFO lines).
LOG_JARS = ('/usr/share/java/slf4j-log4j12.jar',
            '/usr/share/java/log4j-1.2.jar')


class ZooKeeperNotInstalled(Exception):
    pass


def free_port(host='127.0.0.1'):
    """Return a TCP port on ``host`` that nothing listens on right now."""
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


def four_letter(host, port, word, timeout=2.0, tls=None):
    """Send a four letter word (ruok, mntr, srvr, ...) and return the reply.

    tls: the TLSCertificates of a server that listens on TLS only.
    """
    sock = socket.create_connection((host, port), timeout)
    if tls is not None:
        sock = tls.client_context().wrap_socket(sock, server_hostname=host)
    try:
        sock.sendall(word.encode('ascii'))
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
        return b''.join(chunks).decode('utf-8', 'replace')
    finally:
        sock.close()


def mntr(host, port, tls=None):
    """A server's ``mntr`` counters as a dict of str to str."""
    stats = {}
    for line in four_letter(host, port, 'mntr', tls=tls).splitlines():
        if '\t' in line:
            key, value = line.split('\t', 1)
            stats[key] = value
    return stats


def _classpath():
    classpath = os.environ.get('ZOOKEEPER_CLASSPATH', ZK_CLASSPATH_DEFAULT)
    jars = [p for p in classpath.split(':') if p.endswith('.jar')]
    if not jars or not all(os.path.exists(j) for j in jars):
        raise ZooKeeperNotInstalled(
            'ZooKeeper server jar not found in classpath %r: install the '
            'Debian package "zookeeper" (tools/install_deps.sh) or set '
            'ZOOKEEPER_CLASSPATH' % classpath)
    return classpath


def _new_session():
    """Popen arguments that put a server in a session (and process group)
    of its own, so that a test runner's Ctrl-C does not reach it before its
    cleanup does.  On Python 3 without preexec_fn: that runs Python code in
    the forked child of a threaded process, and runs the parent's at-fork
    hooks (evzookeeper's would take it for a fork that shares its hub).
    """
    if sys.version_info[0] >= 3:
        return {'start_new_session': True}
    return {'preexec_fn': os.setsid}


class ServerProcess(object):
    """A server's process: started with its output in a log file, stopped,
    killed, paused and resumed (ZooKeeper and memcached alike)."""

    def __init__(self, log_path):
        self.log_path = log_path
        self.process = None
        self.paused = False

    def launch(self, cmd):
        log = open(self.log_path, 'ab')
        try:
            self.process = subprocess.Popen(cmd, stdout=log,
                                            stderr=subprocess.STDOUT,
                                            **_new_session())
        finally:
            log.close()
        self.paused = False

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def _signal(self, signum):
        if self.running:
            os.kill(self.process.pid, signum)

    def kill(self):
        """SIGKILL: the server vanishes as in a power cut."""
        if self.process is None:
            return
        if self.paused:
            self._signal(signal.SIGCONT)
        self._signal(signal.SIGKILL)
        self.process.wait()
        self.process = None
        self.paused = False

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL if it lingers."""
        if self.process is None:
            return
        if self.paused:
            self._signal(signal.SIGCONT)
            self.paused = False
        self._signal(signal.SIGTERM)
        deadline = time.time() + timeout
        while self.process.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        if self.process.poll() is None:
            self.kill()
        self.process = None

    def pause(self):
        """SIGSTOP: the server stops answering but keeps its sockets."""
        self._signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        self._signal(signal.SIGCONT)
        self.paused = False

    def log_tail(self, lines=30):
        try:
            with open(self.log_path) as f:
                return ''.join(f.readlines()[-lines:])
        except IOError:
            return ''

    def wait_for(self, predicate, timeout, what, exits=True):
        """Until ``predicate()``; else RuntimeError with this log's tail.

        exits: give up at once when this process ends (not for a quorum,
        whose first member's log is only the one shown).
        """
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate():
                return
            if exits and self.process is not None and \
                    self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError('%s within %.0fs (exit status %s)\n%s' % (
            what, timeout, self.process and self.process.poll(),
            self.log_tail()))


class _ServerProcess(ServerProcess):
    """One ZooKeeper JVM: its config, data directory and process."""

    heap = '256m'  # -Xmx: plenty for tests; 10,000 sessions need more

    def __init__(self, base_dir, main_class, config, myid=None,
                 client_port=None, host='127.0.0.1', tls=None,
                 java_log=False):
        super(_ServerProcess, self).__init__(
            os.path.join(base_dir, 'server.log'))
        self.tls = tls  # TLSCertificates: the client port speaks TLS only
        self.java_log = java_log
        self.base_dir = base_dir
        self.main_class = main_class
        self.host = host
        self.port = client_port
        self.data_dir = os.path.join(base_dir, 'data')
        self.config_path = os.path.join(base_dir, 'zoo.cfg')
        if not os.path.isdir(self.data_dir):
            os.makedirs(self.data_dir)
        if myid is not None:
            with open(os.path.join(self.data_dir, 'myid'), 'w') as f:
                f.write('%d\n' % myid)
        lines = ['dataDir=%s' % self.data_dir] + config
        with open(self.config_path, 'w') as f:
            f.write('\n'.join(lines) + '\n')

    def start(self):
        if self.running:
            return
        cmd = ['java', '-Xmx%s' % self.heap, '-XX:+UseSerialGC',
               '-Dzookeeper.log.dir=%s' % self.base_dir,
               '-Dzookeeper.root.logger=INFO,CONSOLE',
               '-Dzookeeper.admin.enableServer=false',
               '-cp', _classpath() + (TLS_CLASSPATH if self.tls else '') +
               ''.join(':' + jar for jar in LOG_JARS
                       if self.java_log and os.path.isfile(jar)),
               self.main_class, self.config_path]
        self.launch(cmd)

    def answers(self):
        # 'ruok' says imok before the server serves; 'srvr' names a mode
        # only once it does (for a quorum member: once a leader is elected).
        if not self.running or self.paused:
            return False
        return self.mode() is not None

    def mode(self):
        """'standalone', 'leader', 'follower' or None when not serving."""
        try:
            reply = four_letter(self.host, self.port, 'srvr', timeout=0.5,
                                tls=self.tls)
        except (socket.error, socket.timeout):
            return None
        for line in reply.splitlines():
            if line.startswith('Mode:'):
                return line.split(':', 1)[1].strip()
        return None


class _Deployment(object):
    """Servers that go away, with their directory, on cleanup()."""

    def cleanup(self):
        for server in self._processes():
            server.kill()
        if self._own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


class ZooKeeperServer(_Deployment):
    """A standalone ZooKeeper on a free loopback port.

    tick_time decides the session timeouts the server grants: between 2 and
    20 ticks.  Tests use a small tick so that expiries take a second, and the
    production 2000 ms where the defaults themselves are under test.
    tls (TLSCertificates): the port is a secureClientPort, TLS only.
    java_log: ZooKeeper's own log in server.log (log4j; see LOG_JARS).
    """

    def __init__(self, tick_time=200, port=None, base_dir=None,
                 host='127.0.0.1', max_client_cnxns=0, extra_config=None,
                 tls=None, heap=None, java_log=False):
        self.tick_time = tick_time
        self.host = host
        self.port = port or free_port(host)
        self._own_dir = base_dir is None
        self.base_dir = base_dir or tempfile.mkdtemp(prefix='zk-test-')
        config = _client_config(tick_time, self.port, host, tls,
                                max_client_cnxns) + list(extra_config or [])
        self._server = _ServerProcess(self.base_dir, STANDALONE_MAIN, config,
                                      client_port=self.port, host=host,
                                      tls=tls, java_log=java_log)
        self.tls = tls
        if heap:
            self._server.heap = heap

    @property
    def address(self):
        return '%s:%d' % (self.host, self.port)

    @property
    def pid(self):
        return self._server.pid

    @property
    def running(self):
        return self._server.running

    def start(self, timeout=30.0):
        self._server.start()
        self.wait_until_ready(timeout)
        return self

    def wait_until_ready(self, timeout=30.0):
        self._server.wait_for(self._server.answers, timeout,
                              'ZooKeeper on %s did not answer' % self.address)

    def stop(self):
        self._server.stop()

    def kill(self):
        self._server.kill()

    def restart(self, timeout=30.0):
        self._server.stop()
        return self.start(timeout)

    def pause(self):
        self._server.pause()

    def resume(self):
        self._server.resume()

    def four_letter(self, word):
        return four_letter(self.host, self.port, word, tls=self.tls)

    def mntr(self):
        return mntr(self.host, self.port, tls=self.tls)

    def _processes(self):
        return [self._server]


class ZooKeeperEnsemble(_Deployment):
    """A quorum of ``size`` ZooKeeper servers on loopback ports.

    Each member has its own data directory, myid, client, quorum and
    election ports; any one can be stopped, killed, restarted or paused.
    tls (TLSCertificates): the client ports are secureClientPorts, TLS
    only (between the members, plain).
    """

    def __init__(self, size=3, tick_time=200, base_dir=None,
                 host='127.0.0.1', tls=None):
        self.size = size
        self.tick_time = tick_time
        self.host = host
        self._own_dir = base_dir is None
        self.base_dir = base_dir or tempfile.mkdtemp(prefix='zk-ensemble-')
        ports = [(free_port(host), free_port(host), free_port(host))
                 for _i in range(size)]
        self.ports = [p[0] for p in ports]
        peers = ['server.%d=%s:%d:%d' % (i + 1, host, quorum, election)
                 for i, (_client, quorum, election) in enumerate(ports)]
        self.servers = []
        for i, (client, _quorum, _election) in enumerate(ports):
            # Elections on loopback: no need to wait for the default 5 s
            # connection timeouts.
            config = _client_config(tick_time, client, host, tls) + [
                'initLimit=10', 'syncLimit=5', 'cnxTimeout=1000'] + peers
            directory = os.path.join(self.base_dir, 'server%d' % (i + 1))
            self.servers.append(_ServerProcess(directory, QUORUM_MAIN, config,
                                               myid=i + 1, client_port=client,
                                               host=host, tls=tls))
        self.tls = tls

    @property
    def address(self):
        return ','.join('%s:%d' % (self.host, p) for p in self.ports)

    def start(self, timeout=60.0):
        for server in self.servers:
            server.start()
        self.wait_for_quorum(timeout)
        return self

    def wait_for_quorum(self, timeout=60.0):
        """Until every running, unpaused member serves under one leader."""
        def ready():
            modes = [s.mode() for s in self.servers
                     if s.running and not s.paused]
            return (modes and None not in modes and
                    modes.count('leader') == 1)
        self.servers[0].wait_for(
            ready, timeout, 'ensemble %s elected no leader' % self.address,
            exits=False)

    def leader(self):
        """Index of the leader, or None."""
        for i, server in enumerate(self.servers):
            if server.mode() == 'leader':
                return i
        return None

    def followers(self):
        return [i for i, server in enumerate(self.servers)
                if server.mode() == 'follower']

    def kill(self, i):
        self.servers[i].kill()

    def stop(self, i):
        self.servers[i].stop()

    def start_member(self, i, wait=True, timeout=60.0):
        self.servers[i].start()
        if wait:
            self.servers[i].wait_for(self.servers[i].answers, timeout,
                                     'member %d did not rejoin' % (i + 1))

    def pause(self, i):
        self.servers[i].pause()

    def resume(self, i):
        self.servers[i].resume()

    def mntr(self, i):
        return mntr(self.host, self.ports[i], tls=self.tls)

    def _processes(self):
        return self.servers


def _client_config(tick_time, port, host, tls, max_client_cnxns=0):
    """zoo.cfg lines of a server's tick and client port: plain, or TLS only
    with ``tls``."""
    config = ['tickTime=%d' % tick_time,
              'maxClientCnxns=%d' % max_client_cnxns,
              'admin.enableServer=false',
              '4lw.commands.whitelist=*']
    if tls is None:
        return config + ['clientPort=%d' % port,
                         'clientPortAddress=%s' % host]
    return config + _tls_config(tls, port, host)


def _tls_config(tls, port, host):
    """zoo.cfg lines for a TLS-only client port with ``tls``'s files.

    Only the Netty connection factory serves a secureClientPort.  The
    server presents server.pem and asks every client for a certificate
    signed by ca.pem (ssl.clientAuth defaults to "need").
    """
    return ['secureClientPort=%d' % port,
            'secureClientPortAddress=%s' % host,
            'serverCnxnFactory='
            'org.apache.zookeeper.server.NettyServerCnxnFactory',
            'ssl.keyStore.location=%s' % tls.server_keystore,
            'ssl.keyStore.type=PEM',
            'ssl.trustStore.location=%s' % tls.ca,
            'ssl.trustStore.type=PEM']


class TLSCertificates(object):
    """A private CA and a server and a client certificate it signed.

    Made with the ``openssl`` command in ``directory``: ca.pem, server.pem
    and server.key (for 127.0.0.1 and localhost), client.pem and
    client.key, and server-keystore.pem (key and certificate in one file,
    as ZooKeeper's PEM key store reads them).  EC keys: quick to make.
    Two instances are two unrelated CAs, for "wrong CA" tests.
    server_names: the subjectAltName entries of the server certificate.
    """

    def __init__(self, directory, name='nova-zk-test',
                 server_names=('IP:127.0.0.1', 'DNS:localhost')):
        self.directory = directory
        if not os.path.isdir(directory):
            os.makedirs(directory)
        self.name = name
        self.checks_host_name = 'IP:127.0.0.1' in server_names
        self.ca = self._path('ca.pem')
        self.ca_key = self._path('ca.key')
        self._openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt',
                      'ec_paramgen_curve:prime256v1', '-nodes',
                      '-keyout', self.ca_key, '-out', self.ca, '-days', '2',
                      '-subj', '/CN=%s CA' % name,
                      '-addext', 'basicConstraints=critical,CA:TRUE',
                      '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
        self.server_cert, self.server_key = self.issue(
            'server', 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n'
                      % ','.join(server_names))
        self.client_cert, self.client_key = self.issue(
            'client', 'extendedKeyUsage=clientAuth\n')
        self.server_keystore = self._path('server-keystore.pem')
        with open(self.server_keystore, 'w') as out:
            for path in (self.server_key, self.server_cert):
                with open(path) as f:
                    out.write(f.read())

    def _path(self, name):
        return os.path.join(self.directory, name)

    def _openssl(self, *args):
        proc = subprocess.Popen(('openssl',) + args, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        out = proc.communicate()[0]
        if proc.returncode != 0:
            raise RuntimeError('openssl %s failed: %s' % (
                args[0], out.decode('utf-8', 'replace')))

    def issue(self, role, extensions):
        """A key and a certificate for ``role``, signed by this CA."""
        key, cert = self._path(role + '.key'), self._path(role + '.pem')
        csr, ext = self._path(role + '.csr'), self._path(role + '.ext')
        with open(ext, 'w') as f:
            f.write(extensions)
        self._openssl('req', '-newkey', 'ec', '-pkeyopt',
                      'ec_paramgen_curve:prime256v1', '-nodes',
                      '-keyout', key, '-out', csr,
                      '-subj', '/CN=%s %s' % (self.name, role))
        self._openssl('x509', '-req', '-in', csr, '-CA', self.ca,
                      '-CAkey', self.ca_key, '-CAcreateserial', '-days', '2',
                      '-extfile', ext, '-out', cert)
        return cert, key

    def client_context(self):
        """A Python ssl context that trusts this CA and shows the client.

        The host name is checked only when the server certificate names
        127.0.0.1 (the default server_names).
        """
        import ssl
        context = ssl.create_default_context(cafile=self.ca)
        context.check_hostname = self.checks_host_name
        context.load_cert_chain(self.client_cert, self.client_key)
        return context


def _main(argv):
    """tools/zkserver: run a local ZooKeeper in the foreground or background.

    usage: zkserver start [--port P] [--tick-time MS] [--dir D]
           zkserver stop  [--dir D]
           zkserver status [--dir D]
    """
    import argparse

    parser = argparse.ArgumentParser(
        prog='zkserver', description='A local ZooKeeper for nova development.')
    parser.add_argument('command', choices=['start', 'stop', 'status'])
    parser.add_argument('--port', type=int, default=2181)
    parser.add_argument('--tick-time', type=int, default=2000)
    parser.add_argument('--dir', default=os.path.join(
        os.path.expanduser('~'), '.nova-zk'))
    args = parser.parse_args(argv)
    pidfile = os.path.join(args.dir, 'server.pid')

    def read_pid():
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
            return pid
        except (IOError, OSError, ValueError):
            return None

    if args.command == 'status':
        pid = read_pid()
        if pid is None:
            print('zkserver: not running (state directory %s)' % args.dir)
            return 1
        print('zkserver: running, pid %d, %s' % (pid, open(
            os.path.join(args.dir, 'address')).read().strip()))
        return 0
    if args.command == 'stop':
        pid = read_pid()
        if pid is None:
            print('zkserver: not running')
            return 0
        os.kill(pid, signal.SIGTERM)
        for _i in range(200):
            try:
                os.kill(pid, 0)
            except OSError as e:
                if e.errno == errno.ESRCH:
                    break
            time.sleep(0.05)
        os.remove(pidfile)
        print('zkserver: stopped pid %d' % pid)
        return 0

    pid = read_pid()
    if pid is not None:
        print('zkserver: already running, pid %d, %s' % (pid, open(
            os.path.join(args.dir, 'address')).read().strip()))
        return 0
    if not os.path.isdir(args.dir):
        os.makedirs(args.dir)
    try:
        # Another server there would answer the readiness check for ours.
        socket.create_connection(('127.0.0.1', args.port), 1.0).close()
    except (socket.error, socket.timeout):
        pass
    else:
        print('zkserver: port %d on 127.0.0.1 is in use; not started'
              % args.port, file=sys.stderr)
        return 2
    server = ZooKeeperServer(tick_time=args.tick_time, port=args.port,
                             base_dir=args.dir, java_log=True)
    try:
        server.start()
        if not server.running:
            raise RuntimeError('the server exited at start')
    except (RuntimeError, ZooKeeperNotInstalled) as e:
        server.kill()
        print('zkserver: %s; its log is %s:\n%s'
              % (e, server._server.log_path, server._server.log_tail()),
              file=sys.stderr)
        return 2
    with open(pidfile, 'w') as f:
        f.write('%d\n' % server.pid)
    with open(os.path.join(args.dir, 'address'), 'w') as f:
        f.write(server.address + '\n')
    print('zkserver: started pid %d on %s (tickTime %d ms, data in %s)' % (
        server.pid, server.address, args.tick_time, args.dir))
    return 0


if __name__ == '__main__':
    sys.exit(_main(sys.argv[1:]))
