# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""ZooKeeper authentication and ACLs of the zk driver, and bad input.

Against a real ZooKeeper: an outsider is a second client without nova's
credentials, trying what an attacker on the ZooKeeper network could.
"""

import logging
import signal

import eventlet
import evzookeeper
import fixtures
import zookeeper

from nova import exception
from nova import servicegroup
from nova import test
from nova.tests.functional import cloud
from nova.tests import zkserver

ZK = None
TICK_MS = 200
SECRET = 'nova:s3cr3t-Pa55'


def setup_module():
    global ZK
    ZK = zkserver.ZooKeeperServer(tick_time=TICK_MS)
    ZK.start()


def teardown_module():
    if ZK is not None:
        ZK.cleanup()


class ZKTestBase(test.TestCase):

    def setUp(self):
        super(ZKTestBase, self).setUp()
        from nova.servicegroup.drivers import zk
        self.zk = zk
        self.prefix = '/sec-%s' % self.id().rsplit('.', 1)[-1]
        self.flags(servicegroup_driver='zk')
        self.flags(address=ZK.address, recv_timeout=1000, sg_retry_interval=1,
                   sg_prefix=self.prefix, group='zookeeper')

    def outsider(self, address=None):
        session = evzookeeper.ZKSession(address or ZK.address, timeout=10,
                                        recv_timeout=1000)
        self.addCleanup(session.close)
        return session


class ZKAuthTestCase(ZKTestBase):

    def test_outsider_cannot_delete_overwrite_or_forge(self):
        self.flags(auth_digest=SECRET, group='zookeeper')
        api = servicegroup.API()
        api.join('host1', 'compute')
        group = self.prefix + '/compute'
        outsider = self.outsider()
        # Reading is allowed (acl_world_read defaults to True)...
        self.assertEqual(['host1'], outsider.get_children(group))
        # ...but not deleting, overwriting or adding a fake member.
        self.assertRaises(zookeeper.NoAuthException, outsider.delete,
                          group + '/host1')
        self.assertRaises(zookeeper.NoAuthException, outsider.set,
                          group + '/host1', b'forged')
        self.assertRaises(zookeeper.NoAuthException, outsider.create,
                          group + '/fake-host', b'x',
                          [evzookeeper.ZOO_OPEN_ACL_UNSAFE],
                          zookeeper.EPHEMERAL)
        self.assertRaises(zookeeper.NoAuthException, outsider.create,
                          self.prefix + '/fake-topic', b'x',
                          [evzookeeper.ZOO_OPEN_ACL_UNSAFE])
        self.assertTrue(api.service_is_up({'host': 'host1',
                                           'topic': 'compute'}))
        self.assertEqual(['host1'], api.get_all('compute'))

    def test_world_read_can_be_refused(self):
        self.flags(auth_digest=SECRET, acl_world_read=False,
                   group='zookeeper')
        api = servicegroup.API()
        api.join('host1', 'compute')
        outsider = self.outsider()
        self.assertRaises(zookeeper.NoAuthException, outsider.get_children,
                          self.prefix + '/compute')
        # nova's own readers authenticate and see the member.
        self.assertEqual(['host1'], api.get_all('compute'))

    def test_without_credentials_the_original_open_acl(self):
        api = servicegroup.API()
        api.join('host1', 'compute')
        outsider = self.outsider()
        acl, _stat = outsider.get_acl(self.prefix + '/compute/host1')
        self.assertEqual([('world', 'anyone', zookeeper.PERM_ALL)],
                         [(a['scheme'], a['id'], a['perms']) for a in acl])
        # This is the exposure the documentation warns about: anyone may
        # delete a member's node.  (The member puts it back at once, so
        # whether a reader sees it gone in between is a race, not asserted.)
        _acl, before = outsider.get_acl(self.prefix + '/compute/host1')
        outsider.delete(self.prefix + '/compute/host1')

        def recreated():
            try:
                _acl, stat = outsider.get_acl(self.prefix + '/compute/host1')
            except zookeeper.NoNodeException:
                return False
            return stat['czxid'] > before['czxid']
        self.wait_for(recreated, 10)

    def test_open_group_node_gets_restricted(self):
        outsider = self.outsider()
        outsider.create(self.prefix, b'', [evzookeeper.ZOO_OPEN_ACL_UNSAFE])
        outsider.create(self.prefix + '/compute', b'ZKMembers',
                        [evzookeeper.ZOO_OPEN_ACL_UNSAFE])
        self.flags(auth_digest=SECRET, group='zookeeper')
        servicegroup.API().join('host1', 'compute')
        self.assertRaises(zookeeper.NoAuthException, outsider.create,
                          self.prefix + '/compute/fake', b'x',
                          [evzookeeper.ZOO_OPEN_ACL_UNSAFE],
                          zookeeper.EPHEMERAL)

    def test_member_rejoins_with_auth_after_session_expiry(self):
        # A real worker frozen past its session timeout: the server expires
        # the session; on waking the worker opens a new one, which must
        # authenticate again before it re-creates its protected node.
        self.flags(auth_digest=SECRET, group='zookeeper')
        the_cloud = self.useFixture(cloud.Cloud(self.state_path, {
            'DEFAULT': {'servicegroup_driver': 'zk'},
            'zookeeper': {'address': ZK.address, 'recv_timeout': '1000',
                          'sg_prefix': self.prefix, 'sg_retry_interval': '1',
                          'auth_digest': SECRET}}))
        the_cloud.start_worker('host1')
        api = servicegroup.API()

        def up():
            return api.service_is_up({'host': 'host1', 'topic': 'compute'})

        self.wait_for(up, 30, message=the_cloud.worker_log('host1'))
        the_cloud.signal('host1', signal.SIGSTOP)
        try:
            self.wait_for(lambda: not up(), 10)
        finally:
            the_cloud.signal('host1', signal.SIGCONT)
        self.wait_for(up, 15, message=the_cloud.worker_log('host1'))
        outsider = self.outsider()
        self.assertRaises(zookeeper.NoAuthException, outsider.delete,
                          self.prefix + '/compute/host1')
        self.assertNotIn(SECRET.split(':')[1],
                         the_cloud.worker_log('host1'))

    def test_credentials_never_logged(self):
        logs = self.useFixture(fixtures.FakeLogger(level=logging.DEBUG))
        self.flags(auth_digest=SECRET, group='zookeeper')
        api = servicegroup.API()
        api.join('host1', 'compute')
        api.service_is_up({'host': 'host1', 'topic': 'compute'})
        api.leave('host1', 'compute')
        # A wrong password on the protected tree: errors, but no secret.
        servicegroup.API._driver.cleanup()
        servicegroup.API._driver = None
        self.flags(auth_digest='nova:wrong-Pa55', group='zookeeper')
        api = servicegroup.API()
        api.join('host2', 'compute')
        eventlet.sleep(1.5)
        servicegroup.API._driver.cleanup()
        self.assertIn('host2', logs.output)
        self.assertNotIn('s3cr3t-Pa55', logs.output)
        self.assertNotIn('wrong-Pa55', logs.output)

    def test_malformed_credentials_are_not_echoed(self):
        self.flags(auth_digest='justapassword', group='zookeeper')
        e = self.assertRaises(self.zk.InvalidZooKeeperConfig,
                              servicegroup.API)
        self.assertIn('auth_digest', str(e))
        self.assertNotIn('justapassword', str(e))


class ZKBadInputTestCase(ZKTestBase):

    def test_non_ascii_names_round_trip(self):
        api = servicegroup.API()
        api.join(u'h\u00f4te-\u00fc', u'c\u00f6mpute')
        self.assertTrue(api.service_is_up({'host': u'h\u00f4te-\u00fc',
                                           'topic': u'c\u00f6mpute'}))
        self.assertEqual([u'h\u00f4te-\u00fc'], api.get_all(u'c\u00f6mpute'))

    def test_long_names(self):
        api = servicegroup.API()
        longest = 'h' * self.zk.MAX_NAME_LENGTH
        api.join(longest, 'compute')
        self.assertTrue(api.service_is_up({'host': longest,
                                           'topic': 'compute'}))
        e = self.assertRaises(exception.NovaException, api.join,
                              longest + 'h', 'compute')
        self.assertIn('256 characters', str(e))
        self.assertRaises(exception.NovaException, api.get_all,
                          't' * 300)

    def test_empty_and_slash_names(self):
        api = servicegroup.API()
        for host, topic in (('', 'compute'), ('a/b', 'compute'),
                            ('h', ''), ('h', 'com/pute'), (None, 'compute')):
            e = self.assertRaises(exception.NovaException, api.join, host,
                                  topic)
            self.assertIn('ZooKeeperDriver', str(e))

    def test_chroot_address(self):
        self.flags(address=ZK.address + '/nova/region-1', group='zookeeper')
        api = servicegroup.API()
        api.join('host1', 'compute')
        self.assertTrue(api.service_is_up({'host': 'host1',
                                           'topic': 'compute'}))
        outsider = self.outsider()
        self.assertEqual(['host1'], outsider.get_children(
            '/nova/region-1' + self.prefix + '/compute'))

    def test_recv_timeout_outside_server_range_is_reported(self):
        logs = self.useFixture(fixtures.FakeLogger(
            name='nova.servicegroup.drivers.zk'))
        # The server grants at least 2 ticks (400 ms) and at most 20.
        self.flags(recv_timeout=100, group='zookeeper')
        api = servicegroup.API()
        api.join('host1', 'compute')
        self.assertIn('asked for a session timeout of 100 ms', logs.output)
        self.assertIn('granted 400 ms', logs.output)
        self.assertTrue(api.service_is_up({'host': 'host1',
                                           'topic': 'compute'}))

    def test_nonpositive_recv_timeout_is_a_config_error(self):
        self.flags(recv_timeout=0, group='zookeeper')
        e = self.assertRaises(self.zk.InvalidZooKeeperConfig,
                              servicegroup.API)
        self.assertIn('recv_timeout', str(e))

    def test_unknown_host_in_address_keeps_trying(self):
        self.flags(address='no-such-host.invalid:2181', group='zookeeper')
        api = servicegroup.API()
        timer = api.join('host1', 'compute')
        self.assertIsNotNone(timer)
        self.assertRaises(exception.ServiceGroupUnavailable, api.get_all,
                          'compute')
        timer.stop()


class ZKEnforcedAuthTestCase(ZKTestBase):
    """A server that enforces digest authentication closes the connection
    at the first request of a client without it (pings included)."""

    def test_without_credentials_said_once_never_down(self):
        server = zkserver.ZooKeeperServer(
            tick_time=TICK_MS, extra_config=[
                'enforce.auth.enabled=true',
                'enforce.auth.schemes=digest']).start()
        self.addCleanup(server.cleanup)
        self.flags(address=server.address, group='zookeeper')
        log = self.useFixture(fixtures.FakeLogger(
            name='nova.servicegroup.drivers.zk', level=logging.WARNING,
            format='%(message)s'))
        api = servicegroup.API()
        self.addCleanup(api._driver.cleanup)
        api.join('host1', 'compute')  # starts anyway, keeps trying
        host1 = {'host': 'host1', 'topic': 'compute'}
        deadline = eventlet.Timeout(4, False)
        with deadline:
            while True:
                # unknown, never "down"
                self.assertRaises(exception.ServiceGroupUnavailable,
                                  api.service_is_up, host1)
                eventlet.sleep(0.5)
        self.assertIn('wants credentials: set [zookeeper] auth_digest',
                      log.output)
        # a lost connection at each ping (1000 ms: 3 a second) and at each
        # try: at most the first is reported, not two lines a ping
        self.assertLessEqual(log.output.count('lost the connection'), 1,
                             log.output)
        self.assertLessEqual(log.output.count('reconnected'),
                             log.output.count('lost the connection'))
        # nine reads, each raising at once: one try a second
        # (sg_retry_interval), each reason said once (the refusal, and
        # maybe the connection loss of a try that met a ping's)
        reads = [line for line in log.output.splitlines()
                 if 'cannot read the compute group' in line]
        self.assertTrue(1 <= len(reads) <= 2, log.output)
        self.assertEqual(len(reads), len(set(reads)), log.output)
        # the same server with credentials
        api._driver.cleanup()
        servicegroup.API._driver = None
        self.flags(auth_digest=SECRET, group='zookeeper')
        api = servicegroup.API()
        self.addCleanup(api._driver.cleanup)
        api.join('host1', 'compute')
        self.assertTrue(api.service_is_up(host1))
