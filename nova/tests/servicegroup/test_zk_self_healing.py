# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Member nodes that others delete, forge or left open, on a real server.

An outsider is a second ZooKeeper session of its own (evzookeeper), doing
what any client of the ensemble may do.
"""

import logging
import os
import shutil

import eventlet
import evzookeeper
import fixtures
import zookeeper

from nova import servicegroup
from nova.servicegroup.drivers import zk  # noqa: the [zookeeper] options
from nova import test
from nova.tests import zkserver

SECRET = 'nova:heal-Me-5ecret'
OPEN = [evzookeeper.ZOO_OPEN_ACL_UNSAFE]


class ZKSelfHealingTestCase(test.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = zkserver.ZooKeeperServer(tick_time=200)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def setUp(self):
        super(ZKSelfHealingTestCase, self).setUp()
        servicegroup.API._driver = None
        self.addCleanup(self._forget_driver)
        self.prefix = '/heal-%s' % self.id().rsplit('.', 1)[-1]
        self.group = self.prefix + '/compute'
        self.flags(servicegroup_driver='zk')
        self.flags(address=self.server.address, recv_timeout=1000,
                   sg_retry_interval=1, sg_prefix=self.prefix,
                   group='zookeeper')
        self.logs = self.useFixture(fixtures.FakeLogger(
            name='nova.servicegroup.drivers.zk', level=logging.WARNING))
        self.outsider = evzookeeper.ZKSession(self.server.address,
                                              timeout=10, recv_timeout=1000)
        self.addCleanup(self.outsider.close)

    def _forget_driver(self):
        driver, servicegroup.API._driver = servicegroup.API._driver, None
        if driver is not None:
            driver.cleanup()

    def _owner(self, host):
        try:
            return self.outsider.exists(self.group + '/' + host)[
                'ephemeralOwner']
        except zookeeper.NoNodeException:
            return None

    def _up(self, api, host):
        return api.service_is_up({'host': host, 'topic': 'compute'})

    def test_deleted_member_node_is_recreated(self):
        api = servicegroup.API()
        api.join('victim', 'compute')
        owner = self._owner('victim')
        self.assertTrue(owner)
        for _attempt in range(3):
            self.outsider.delete(self.group + '/victim')
            self.wait_for(lambda: self._owner('victim') == owner, 5,
                          message=self.logs.output)
        self.wait_for(lambda: self._up(api, 'victim'), 2)
        self.assertIn('was deleted by another ZooKeeper client',
                      self.logs.output)
        self.assertIn('re-created %s/victim' % self.group, self.logs.output)
        # A member that left is not brought back.
        api.leave('victim', 'compute')
        self.wait_for(lambda: self._owner('victim') is None, 2)
        eventlet.sleep(1.5)
        self.assertIsNone(self._owner('victim'))

    def test_persistent_node_does_not_keep_the_worker_out(self):
        self.outsider.create(self.prefix, b'', OPEN)
        self.outsider.create(self.group, b'ZKMembers', OPEN)
        self.outsider.create(self.group + '/squatted', b'forged', OPEN)
        api = servicegroup.API()
        api.join('squatted', 'compute')
        self.wait_for(lambda: self._owner('squatted'), 10,
                      message=self.logs.output)
        self.assertIn('a persistent node, which no live session owns, is '
                      'not a member', self.logs.output)
        self.assertTrue(self._up(api, 'squatted'))

    def test_auth_digest_cleans_what_the_open_tree_let_in(self):
        # The tree as Grizzly left it: open ACLs, a forged persistent member
        # and a live member of another session with the open ACL.
        self.outsider.create(self.prefix, b'', OPEN)
        self.outsider.create(self.group, b'ZKMembers', OPEN)
        self.outsider.create(self.group + '/ghost', b'forged', OPEN)
        self.outsider.create(self.group + '/old-worker', b'',
                             OPEN, zookeeper.EPHEMERAL)
        self.flags(auth_digest=SECRET, group='zookeeper')
        api = servicegroup.API()
        api.join('new-worker', 'compute')
        self.assertIsNone(self._owner('ghost'))
        self.assertIn('removed %s/ghost' % self.group, self.logs.output)
        self.assertFalse(self._up(api, 'ghost'))
        # The live one stays, and the outsider can no longer touch it.
        self.assertTrue(self._up(api, 'old-worker'))
        self.assertRaises(zookeeper.NoAuthException, self.outsider.set,
                          self.group + '/old-worker', b'forged')
        self.assertRaises(zookeeper.NoAuthException, self.outsider.delete,
                          self.group + '/old-worker')
        self.assertIn('restricted the ACL of the member node %s/old-worker'
                      % self.group, self.logs.output)


class _OwnServerTestCase(test.TestCase):
    """A zk driver on a server of its own, and its warnings captured."""

    RECV_TIMEOUT = 4000

    def setUp(self):
        super(_OwnServerTestCase, self).setUp()
        self.server = zkserver.ZooKeeperServer(tick_time=200)
        self.addCleanup(self.server.cleanup)
        self.server.start()
        servicegroup.API._driver = None
        self.addCleanup(self._forget_driver)
        self.flags(servicegroup_driver='zk')
        self.flags(address=self.server.address,
                   recv_timeout=self.RECV_TIMEOUT, sg_retry_interval=1,
                   group='zookeeper')
        self.logs = self.useFixture(fixtures.FakeLogger(
            name='nova.servicegroup.drivers.zk', level=logging.WARNING))

    def _forget_driver(self):
        driver, servicegroup.API._driver = servicegroup.API._driver, None
        if driver is not None:
            driver.cleanup()


class ZKOutageLogTestCase(_OwnServerTestCase):
    """An outage is in the log at WARNING: lost, still away, back."""

    def setUp(self):
        super(ZKOutageLogTestCase, self).setUp()
        self.useFixture(fixtures.MonkeyPatch(
            'nova.servicegroup.drivers.zk.OUTAGE_LOG_INTERVAL', 0.5))

    def test_outage_within_the_session_timeout(self):
        api = servicegroup.API()
        api.join('w1', 'compute')
        self.server.stop()
        self.wait_for(lambda: 'lost the connection to ZooKeeper at %s'
                      % self.server.address in self.logs.output, 5,
                      message=self.logs.output)
        # Refused connections bring no new state: the reminder comes from
        # the follower's own clock.
        self.wait_for(lambda: self.logs.output.count('still unreachable')
                      >= 2, 5, message=self.logs.output)
        self.server.start()
        self.wait_for(lambda: 'reconnected to ZooKeeper' in self.logs.output,
                      10, message=self.logs.output)
        self.assertIn('survived, the members stayed up', self.logs.output)
        self.assertTrue(api.service_is_up({'host': 'w1',
                                           'topic': 'compute'}))


class ZKLostDataTestCase(_OwnServerTestCase):
    """A server that lost its data refuses the old session: a new one."""

    RECV_TIMEOUT = 1000

    def _members(self, reader):
        try:
            return reader.get_children('/servicegroups/compute')
        except zookeeper.NoNodeException:
            return []

    def test_worker_rejoins_a_server_that_lost_its_data(self):
        self.useFixture(fixtures.MonkeyPatch(
            'nova.servicegroup.drivers.zk.STUCK_SESSION_MIN', 0))
        self.useFixture(fixtures.MonkeyPatch(
            'nova.servicegroup.drivers.zk.STUCK_SESSION_TIMEOUTS', 5))
        api = servicegroup.API()
        api.join('w1', 'compute')
        # The worker sees many writes: its last zxid runs ahead of what
        # the fresh server will have.
        writer = evzookeeper.ZKSession(self.server.address, timeout=10,
                                       recv_timeout=1000)
        writer.create('/load', b'', OPEN)
        for i in range(300):
            writer.set('/load', b'%d' % i)
        writer.close()
        api.get_all('compute')
        self.server.kill()
        data_dir = self.server._server.data_dir
        for name in os.listdir(data_dir):
            shutil.rmtree(os.path.join(data_dir, name), True)
        self.server.start()
        # One reader, made once: each new session is a write, which would
        # let the server catch up with the worker's zxid by itself.
        reader = evzookeeper.ZKSession(self.server.address, timeout=10,
                                       recv_timeout=1000)
        self.addCleanup(reader.close)
        self.wait_for(lambda: 'w1' in self._members(reader), 30,
                      message=self.logs.output)
        self.assertIn('giving it up and re-joining with a new session',
                      self.logs.output)
        self.wait_for(lambda: api.service_is_up({'host': 'w1',
                                                 'topic': 'compute'}), 10)
