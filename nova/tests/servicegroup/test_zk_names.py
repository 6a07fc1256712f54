# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""What the zk driver refuses at start: names and options.

The driver must refuse exactly the names ZooKeeper refuses, so each
character class is also tried against a real server.
"""

import socket

import eventlet
import fixtures
import zookeeper

from nova import exception
from nova import servicegroup
from nova import test
from nova.servicegroup.drivers import zk
from nova.tests import zkserver

# (character, refused by ZooKeeper) around the edges of each refused range.
CHARACTERS = [
    (u'\x01', True), (u'\t', True), (u'\x1f', True), (u' ', False),
    (u'~', False), (u'\x7f', True), (u'\x9f', True), (u'\xa0', False),
    (u'\xe9', False), (u'\ud7ff', False), (u'\ue000', True),
    (u'\uf8ff', True), (u'\uf900', False), (u'\uffef', False),
    (u'\ufff0', True), (u'\uffff', True), (u'\U0001f600', True),
]


class ZooKeeperNamesTestCase(test.TestCase):
    """Each character against the driver and against a real server."""

    @classmethod
    def setUpClass(cls):
        cls.server = zkserver.ZooKeeperServer()
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def _zookeeper_refuses(self, name):
        handle = zookeeper.init(self.server.address)
        self.addCleanup(zookeeper.close, handle)
        for _i in range(100):
            if zookeeper.state(handle) == zookeeper.CONNECTED_STATE:
                break
            eventlet.sleep(0.05)
        try:
            zookeeper.create(handle, u'/n' + name, b'',
                             [zookeeper.ZOO_OPEN_ACL_UNSAFE],
                             zookeeper.EPHEMERAL)
        except zookeeper.BadArgumentsException:
            return True
        return False

    def test_refuses_exactly_what_zookeeper_refuses(self):
        for char, refused in CHARACTERS:
            name = u'host' + char
            self.assertEqual(refused, self._zookeeper_refuses(name),
                             'ZooKeeper and U+%04X' % ord(char[0]))
            if refused:
                e = self.assertRaises(zk.InvalidMemberName, zk.check_name,
                                      'host', name)
                self.assertIn('the host', str(e))
            else:
                zk.check_name('host', name)

    def test_dot_names_and_slashes(self):
        for bad in (u'', u'.', u'..', u'a/b', u'x' * 256):
            self.assertRaises(zk.InvalidMemberName, zk.check_name, 'topic',
                              bad)
        zk.check_name('topic', u'...')


class ZooKeeperOptionsTestCase(test.TestCase):
    """Options checked when the driver starts, each error naming it."""

    def setUp(self):
        super(ZooKeeperOptionsTestCase, self).setUp()
        servicegroup.API._driver = None
        self.addCleanup(setattr, servicegroup.API, '_driver', None)
        self.flags(servicegroup_driver='zk')
        self.flags(address='127.0.0.1:2181', group='zookeeper')

    def _refused(self, option, **flags):
        self.flags(group='zookeeper', **flags)
        e = self.assertRaises(zk.InvalidZooKeeperConfig, zk.ZooKeeperDriver)
        self.assertIn('[zookeeper] %s' % option, str(e))
        return str(e)

    def test_retry_interval_must_be_positive(self):
        for value in (0, -1):
            self._refused('sg_retry_interval', sg_retry_interval=value)

    def test_prefix_must_be_a_path_zookeeper_accepts(self):
        for value in ('//x', '/a//b', '/a/../b', '/a/./b', '/a\tb', 'x',
                      '/x/'):
            self._refused('sg_prefix', sg_prefix=value)
        self.flags(sg_prefix='/nova/servicegroups', group='zookeeper')
        zk.ZooKeeperDriver()

    def test_bracketed_ipv6_is_given_to_the_client_without_brackets(self):
        self.flags(address='[::1]:2181,127.0.0.1:2182', group='zookeeper')
        self.assertEqual('::1:2181,127.0.0.1:2182',
                         zk.ZooKeeperDriver()._address)

    def test_bracketed_ipv6_connects(self):
        probe = socket.socket(socket.AF_INET6)
        try:
            probe.bind(('::1', 0))
        except socket.error:
            self.fail('this machine has no ::1; the test needs loopback IPv6')
        finally:
            probe.close()
        server = zkserver.ZooKeeperServer(host='::1')
        self.addCleanup(server.cleanup)
        server.start()
        self.flags(address='[::1]:%d' % server.port, group='zookeeper')
        api = servicegroup.API()
        self.addCleanup(api._driver.cleanup)
        api.join('v6host', 'compute')
        self.assertEqual(['v6host'], api.get_all('compute'))

    def test_unresolvable_host_is_named(self):
        logs = self.useFixture(fixtures.FakeLogger(
            name='nova.servicegroup.drivers.zk'))
        self.flags(address='no-such-host.invalid:2181', group='zookeeper')
        api = servicegroup.API()
        self.addCleanup(api._driver.cleanup)
        # It starts (a name server may be down for a while), and keeps
        # saying why it cannot connect.
        api.join('h', 'compute')
        self.assertRaises(exception.ServiceGroupUnavailable, api.get_all,
                          'compute')
        self.assertIn('cannot resolve host no-such-host.invalid of '
                      '[zookeeper] address', logs.output)
        self.assertIn('ZooKeeper at no-such-host.invalid:2181: cannot '
                      'resolve host no-such-host.invalid', logs.output)
        self.assertNotIn('No such file or directory', logs.output)
