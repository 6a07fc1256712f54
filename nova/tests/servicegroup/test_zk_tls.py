# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""TLS between the zk driver and ZooKeeper, against a real TLS-only server.

The server listens on a secureClientPort only (NettyServerCnxnFactory), with
a private CA and certificates the tests make with ``openssl``.  The clients
are real processes (nova-compute, nova-manage, a small session script)
that load the OpenSSL build of the C client (tools/build_zk_tls.sh) through
ZOOKEEPER_C_LIBRARY; this test process keeps the stock library, as every
other test does.  Where that build is impossible these tests fail: they
never skip.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

import fixtures

from nova import test
from nova.tests.functional import cloud
from nova.tests import zkserver

ROOT = cloud.ROOT
BASE = None
ZK = None
CERTS = None
OTHER = None        # an unrelated CA with its own server and client
TLS_LIBRARY = None
TICK_MS = 200
SECRET = 'nova:tls-s3cr3t'


def tls_library():
    """The OpenSSL build of libzookeeper_mt: CI's, or built now."""
    path = os.environ.get('ZOOKEEPER_C_LIBRARY_TLS')
    if path:
        if not os.path.isfile(path):
            raise RuntimeError('ZOOKEEPER_C_LIBRARY_TLS=%s: no such file'
                               % path)
        return path
    proc = subprocess.Popen(
        ['bash', os.path.join(ROOT, 'tools', 'build_zk_tls.sh'),
         '--print-path'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError('tools/build_zk_tls.sh failed, no TLS client to '
                           'test with:\n%s' % err.decode('utf-8', 'replace'))
    return out.decode('utf-8').strip().splitlines()[-1]


def setup_module():
    global BASE, ZK, CERTS, OTHER, TLS_LIBRARY
    TLS_LIBRARY = tls_library()
    BASE = tempfile.mkdtemp(prefix='zk-tls-test-')
    CERTS = zkserver.TLSCertificates(os.path.join(BASE, 'pki'))
    OTHER = zkserver.TLSCertificates(os.path.join(BASE, 'other-pki'),
                                     name='someone-else')
    ZK = zkserver.ZooKeeperServer(tick_time=TICK_MS, tls=CERTS,
                                  base_dir=os.path.join(BASE, 'zk'))
    ZK.start()


def teardown_module():
    if ZK is not None:
        ZK.cleanup()
    if BASE is not None:
        shutil.rmtree(BASE, ignore_errors=True)


def tls_options(certs=None, ca=None):
    certs = certs or CERTS
    return {'ssl_ca_file': ca or CERTS.ca,
            'ssl_cert_file': certs.client_cert,
            'ssl_key_file': certs.client_key}


def cert_string(certs=None):
    certs = certs or CERTS
    return ','.join((certs.ca, certs.client_cert, certs.client_key))


# A client of its own, on the TLS build, driven by argv; prints JSON.
# Expire a session over TLS from a second handle on it, as a script's
# function (both scripts below use it).  The twin takes the session over
# and closes it; but the owner's C client may take the session back before
# the twin's close is sent, and then the close never reaches the server:
# try again until ``replaced()`` (the owner has a new session).
EXPIRE_FUNCTION = r'''
def expire(address, certs, client_id, replaced, sleep):
    deadline = time.time() + 60
    while time.time() < deadline:
        twin = zookeeper.init_ssl(address, certs, None, 1000, client_id)
        # (generous: on a loaded 2-core CI machine a twin's TLS handshake
        # once took more than 10 s)
        until = time.time() + 20
        while zookeeper.state(twin) not in (
                zookeeper.CONNECTED_STATE,
                zookeeper.EXPIRED_SESSION_STATE) and time.time() < until:
            sleep(0.05)
        zookeeper.close(twin)
        until = time.time() + 5
        while time.time() < until:
            if replaced():
                return True
            sleep(0.05)
    return False
'''

SESSION_SCRIPT = r'''
import json, sys, time
import eventlet, evzookeeper, zookeeper
address, certs, action = sys.argv[1:4]
out = {'library': zookeeper.LIBRARY}
try:
    session = evzookeeper.ZKSession(address, timeout=int(sys.argv[-1]),
                                    recv_timeout=1000, ssl=certs)
except eventlet.Timeout:
    print(json.dumps({'connected': False}))
    sys.exit(0)
if action == 'read':
    out['connected'] = session.is_connected()
    out['children'] = sorted(session.get_children('/'))
elif action == 'expire':
    # Another handle on the same session closes it: the server expires it
    # for the first handle, whose session layer must open a new one, over
    # TLS again.
    old = session.client_id()
    session.create('/tls-expiry', b'x', [evzookeeper.ZOO_OPEN_ACL_UNSAFE],
                   zookeeper.EPHEMERAL)
    # (eventlet.sleep: the hub runs the session's recovery)
    expire(address, certs, old, lambda: session.is_connected() and
           session.client_id()[0] != old[0], eventlet.sleep)
    out['new_session'] = session.client_id()[0] != old[0]
    out['connected'] = session.is_connected()
    out['children'] = sorted(session.get_children('/'))
elif action == 'outsider':
    # Without nova's credentials: what may it do to the members?
    group = sys.argv[4]
    out['members'] = session.get_children(group)
    for name, call in (
            ('delete', lambda: session.delete(group + '/' +
                                              out['members'][0])),
            ('forge', lambda: session.create(
                group + '/fake', b'x', [evzookeeper.ZOO_OPEN_ACL_UNSAFE],
                zookeeper.EPHEMERAL))):
        try:
            call()
            out[name] = 'done'
        except zookeeper.NoAuthException:
            out[name] = 'NoAuth'
session.close()
print(json.dumps(out))
'''


class TLSTestBase(test.TestCase):

    def setUp(self):
        super(TLSTestBase, self).setUp()
        # Children get the TLS build; restored for whatever runs next.
        self.useFixture(fixtures.EnvironmentVariable('ZOOKEEPER_C_LIBRARY',
                                                     TLS_LIBRARY))
        self.prefix = '/tls-%s' % self.id().rsplit('.', 1)[-1]

    def make_cloud(self, **zk_options):
        zk_conf = {'address': '"%s"' % ZK.address, 'recv_timeout': '1000',
                   'sg_retry_interval': '1', 'sg_prefix': self.prefix}
        zk_conf.update(zk_options)
        return self.useFixture(cloud.Cloud(self.state_path, {
            'DEFAULT': {'servicegroup_driver': '"zk"'},
            'zookeeper': zk_conf}))

    def run_session(self, action, *args, **kwargs):
        env = cloud._env()
        env.update(kwargs.get('env', {}))
        proc = subprocess.Popen(
            [sys.executable, '-c', EXPIRE_FUNCTION + SESSION_SCRIPT,
             kwargs.get('address', ZK.address),
             kwargs.get('certs', cert_string()), action] + list(args) +
            [str(kwargs.get('timeout', 10))],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        out, err = proc.communicate(timeout=150)
        self.assertEqual(0, proc.returncode, err.decode('utf-8', 'replace'))
        return json.loads(out.decode('utf-8').strip().splitlines()[-1])


class TLSWorkersTestCase(TLSTestBase):

    def test_workers_join_and_read_over_tls(self):
        the_cloud = self.make_cloud(**tls_options())
        for host in ('node-a', 'node-b'):
            the_cloud.start_worker(host)
        for host in ('node-a', 'node-b'):
            the_cloud.wait_for_state(host, ':-)', 60)
        log = the_cloud.worker_log('node-a')
        self.assertIn('connecting to ZooKeeper over TLS, servers verified '
                      'against the CA %s' % CERTS.ca, log)
        # Crash detection and a clean stop work as in plain mode.
        the_cloud.signal('node-b', signal.SIGKILL)
        the_cloud.wait_for_state('node-b', 'XXX', 15)
        the_cloud.signal('node-a', signal.SIGTERM)
        self.assertEqual(0, the_cloud.wait_exit('node-a'))
        the_cloud.wait_for_state('node-a', 'XXX', 15)
        # The port speaks TLS only: a plain client gets no answer there.
        try:
            reply = zkserver.four_letter(ZK.host, ZK.port, 'srvr')
        except (socket.error, socket.timeout):
            reply = ''
        self.assertNotIn('Mode:', reply)
        self.assertIn('Mode:', ZK.four_letter('srvr'))

    def test_session_reconnects_over_tls_after_expiry(self):
        result = self.run_session('expire')
        self.assertEqual(TLS_LIBRARY, result['library'])
        self.assertTrue(result['new_session'], result)
        self.assertTrue(result['connected'], result)
        # the ephemeral node went with the expired session
        self.assertNotIn('tls-expiry', result['children'])
        self.assertIn('zookeeper', result['children'])


class TLSEnsembleTestCase(TLSTestBase):

    def test_worker_moves_to_another_server_over_tls(self):
        # The C client's reconnect to another member is a new TLS
        # handshake with the same session: the worker stays a member.
        ensemble = zkserver.ZooKeeperEnsemble(
            size=3, tick_time=TICK_MS, tls=CERTS,
            base_dir=os.path.join(self.state_path, 'ensemble'))
        self.addCleanup(ensemble.cleanup)
        ensemble.start()
        the_cloud = self.make_cloud(address='"%s"' % ensemble.address,
                                    recv_timeout='4000', **tls_options())
        the_cloud.start_worker('node-a')
        the_cloud.wait_for_state('node-a', ':-)', 60)
        serving = [i for i in range(ensemble.size)
                   if 'sid=' in zkserver.four_letter(
                       ensemble.host, ensemble.ports[i], 'cons', tls=CERTS)]
        self.assertEqual(1, len(serving), serving)
        ensemble.kill(serving[0])
        ensemble.wait_for_quorum()
        self.wait_for(lambda: any(
            'sid=' in zkserver.four_letter(ensemble.host, ensemble.ports[i],
                                           'cons', tls=CERTS)
            for i in range(ensemble.size) if i != serving[0]), 15)
        self.assertEqual(':-)', the_cloud.state_of('node-a'))
        self.assertNotIn('session expired', the_cloud.worker_log('node-a'))


class TLSChecksTestCase(TLSTestBase):
    """What the 3.8 C client checks of a server's certificate, and not.

    A second server presents a certificate for elsewhere.example, signed by
    the unrelated CA OTHER (whose clients it trusts).
    """

    def setUp(self):
        super(TLSChecksTestCase, self).setUp()
        self.elsewhere = zkserver.TLSCertificates(
            os.path.join(self.state_path, 'elsewhere-pki'), name='elsewhere',
            server_names=('DNS:elsewhere.example',))
        self.server = zkserver.ZooKeeperServer(tick_time=TICK_MS,
                                               tls=self.elsewhere)
        self.addCleanup(self.server.cleanup)
        self.server.start()

    def test_no_host_name_verification(self):
        # Reached as 127.0.0.1, the certificate names another host: the C
        # client connects all the same, so any certificate its CAs signed
        # passes (hence: a private CA for ZooKeeper only).
        result = self.run_session('read', address=self.server.address,
                                  certs=cert_string(self.elsewhere))
        self.assertTrue(result['connected'], result)
        self.assertIn('zookeeper', result['children'])

    def test_the_system_trust_store_counts_too(self):
        # ssl_ca_file is our CA, which did not sign this server: refused...
        certs = ','.join((CERTS.ca, self.elsewhere.client_cert,
                          self.elsewhere.client_key))
        result = self.run_session('read', address=self.server.address,
                                  certs=certs, timeout=3)
        self.assertFalse(result['connected'], result)
        # ...unless OpenSSL's default store (here SSL_CERT_FILE) holds the
        # server's CA: the C client trusts the system's CAs as well.
        result = self.run_session('read', address=self.server.address,
                                  certs=certs,
                                  env={'SSL_CERT_FILE': self.elsewhere.ca})
        self.assertTrue(result['connected'], result)


class TLSRefusedTestCase(TLSTestBase):
    """Clients that must not get through, and the reason they are told."""

    def manage_list(self, **zk_options):
        """nova-manage service list with these [zookeeper] options, while
        a worker with the right ones is up."""
        the_cloud = self.make_cloud(**tls_options())
        the_cloud.start_worker('node-a')
        the_cloud.wait_for_state('node-a', ':-)', 60)
        override = os.path.join(self.state_path, 'reader.conf')
        cloud.write_conf(override, {'zookeeper': zk_options})
        rc, out, err = the_cloud.manage('service', 'list',
                                        extra_confs=[override])
        return rc, out + err

    def test_wrong_ca_cannot_connect_and_says_why(self):
        rc, output = self.manage_list(**tls_options(ca=OTHER.ca))
        self.assertEqual(3, rc, output)
        self.assertIn('is not signed by the CA in [zookeeper] ssl_ca_file %s'
                      % OTHER.ca, output)
        self.assertIn('certificate verify failed', output)

    def test_client_certificate_of_another_ca_is_refused(self):
        rc, output = self.manage_list(**tls_options(certs=OTHER))
        self.assertEqual(3, rc, output)
        self.assertIn('refused the client certificate [zookeeper] '
                      'ssl_cert_file %s' % OTHER.client_cert, output)

    def test_no_ca_is_a_configuration_error(self):
        options = tls_options()
        options['ssl_ca_file'] = ''
        rc, output = self.manage_list(**options)
        self.assertEqual(1, rc, output)
        self.assertIn("Invalid [zookeeper] ssl_ca_file '': TLS needs "
                      "ssl_ca_file", output)

    def test_missing_file_names_the_option(self):
        options = tls_options()
        options['ssl_key_file'] = os.path.join(self.state_path, 'nope.key')
        rc, output = self.manage_list(**options)
        self.assertEqual(1, rc, output)
        self.assertIn("Invalid [zookeeper] ssl_key_file '%s': no such file"
                      % options['ssl_key_file'], output)

    def test_plain_client_cannot_connect(self):
        # No ssl_* options: a plain client on a TLS-only port never gets a
        # session; readers say "unknown", never "down".
        rc, output = self.manage_list(ssl_ca_file='', ssl_cert_file='',
                                      ssl_key_file='')
        self.assertEqual(3, rc, output)
        self.assertIn('Cannot tell which services are up', output)


class TLSLibraryTestCase(test.TestCase):
    """In this process, on the stock C client, which has no TLS."""

    def test_stock_library_refuses_tls_naming_the_option(self):
        from nova.servicegroup.drivers import zk
        self.flags(servicegroup_driver='zk')
        self.flags(address=ZK.address, group='zookeeper', **tls_options())
        self.assertFalse(hasattr(zk.zookeeper, 'init_ssl'))
        error = self.assertRaises(zk.InvalidZooKeeperConfig,
                                  zk.tls_session_args, [('127.0.0.1', 1)])
        self.assertIn('Invalid [zookeeper] ssl_ca_file', str(error))
        self.assertIn('has no zookeeper_init_ssl (tools/build_zk_tls.sh',
                      str(error))

    def test_no_options_plain_as_before(self):
        from nova.servicegroup.drivers import zk
        self.assertEqual({}, zk.tls_session_args([('127.0.0.1', 1)]))


class TLSAuthTestCase(TLSTestBase):

    def test_digest_auth_and_acls_over_tls(self):
        the_cloud = self.make_cloud(auth_digest=SECRET, **tls_options())
        the_cloud.start_worker('node-a')
        the_cloud.wait_for_state('node-a', ':-)', 60)
        group = self.prefix + '/compute'
        # An outsider with a valid certificate but not nova's password can
        # read, not delete or forge: TLS authenticates the connection, the
        # digest ACL decides what it may do.
        result = self.run_session('outsider', group)
        self.assertEqual(['node-a'], result['members'])
        self.assertEqual('NoAuth', result['delete'])
        self.assertEqual('NoAuth', result['forge'])
        self.assertEqual(':-)', the_cloud.state_of('node-a'))
        self.assertNotIn(SECRET.split(':')[1], the_cloud.worker_log('node-a'))


# zkgroup (the session and membership of the Nova 34 driver) over TLS, in
# threading mode: a member with nova's credentials, a group that sees it,
# and the member's return after its session expired (a new handle, over
# TLS again).  Prints JSON.
ZKGROUP_SCRIPT = r'''
import json, sys, time
import zookeeper
from zkgroup import concurrency, membership, session as zksession
address, certs, secret, group = sys.argv[1:5]
model = concurrency.get('threading')
s = zksession.Session(address, model, recv_timeout_ms=1000,
                      auth_digest=secret, ssl=certs)
out = {'connected': s.wait_connected(20)}
member = membership.Member(s, group, 'node-tls', retry_interval=0.5)
watched = membership.Group(s, group, retry_interval=0.5)
out['joined'] = member.joined.wait(20)
deadline = time.time() + 20
while 'node-tls' not in (watched.members() or {}) and time.time() < deadline:
    time.sleep(0.05)
out['seen'] = sorted(watched.members() or {})
old = s.session_id
expire(address, certs, zookeeper.client_id(s.handle),
       lambda: s.session_id not in (None, old), time.sleep)
deadline = time.time() + 40
while time.time() < deadline:
    if s.session_id not in (None, old) and member.joined.is_set() and \
            'node-tls' in (watched.members() or {}):
        break
    time.sleep(0.05)
out['new_session'] = s.session_id not in (None, old)
out['rejoined'] = member.joined.is_set()
out['seen_after'] = sorted(watched.members() or {})
acl = zookeeper.get_acl(s.handle, group + '/node-tls')[1]
out['acl_schemes'] = sorted(set(entry['scheme'] for entry in acl))
member.leave()
s.close()
print(json.dumps(out))
'''


class TLSZkgroupTestCase(TLSTestBase):
    """The Nova 34 driver's session layer on the TLS build."""

    def test_member_and_group_over_tls_across_an_expiry(self):
        proc = subprocess.Popen(
            [sys.executable, '-c', EXPIRE_FUNCTION + ZKGROUP_SCRIPT,
             ZK.address,
             cert_string(), SECRET, self.prefix + '/compute'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cloud._env())
        out, err = proc.communicate(timeout=150)
        err = err.decode('utf-8', 'replace')
        self.assertEqual(0, proc.returncode, err)
        got = json.loads(out.decode('utf-8').strip().splitlines()[-1])
        self.assertEqual({'connected': True, 'joined': True,
                          'seen': ['node-tls'], 'new_session': True,
                          'rejoined': True, 'seen_after': ['node-tls'],
                          'acl_schemes': ['digest', 'world']}, got, err)
