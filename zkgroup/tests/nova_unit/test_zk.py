#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""Tests of the ZooKeeper servicegroup driver, in Nova's test style.

tools/patch_nova.py installs this file as
nova/tests/unit/servicegroup/test_zk.py.  They talk to a real ZooKeeper
server: ZK_ADDRESS names it (tools/nova34/run_lane.sh starts one); without
it they fail, saying so, rather than skip.
"""

import datetime
import os
import sys
import time
from unittest import mock
import uuid

import fixtures
import zookeeper

from nova import servicegroup
from nova.servicegroup.drivers import zk
from nova import test
from nova import utils
from zkgroup import session as zksession


def _address():
    address = os.environ.get('ZK_ADDRESS')
    if not address:
        raise AssertionError('ZK_ADDRESS is not set: these tests need a '
                             'ZooKeeper server (tools/nova34/run_lane.sh '
                             'starts one)')
    return address


class ZKServiceGroupTestCase(test.NoDBTestCase):

    def setUp(self):
        super(ZKServiceGroupTestCase, self).setUp()
        self.prefix = '/nova-unit-%s' % uuid.uuid4().hex[:8]
        self.flags(servicegroup_driver='zk')
        self.flags(address=_address(), recv_timeout=2000,
                   sg_prefix=self.prefix, sg_retry_interval=1,
                   group='zookeeper')
        self.servicegroup_api = servicegroup.API()
        self.driver = self.servicegroup_api._driver
        self.addCleanup(self.driver._close_at_exit)

    def _wait(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _up(self, host, topic='compute'):
        return self.servicegroup_api.service_is_up(
            {'host': host, 'topic': topic})

    def test_api_loads_the_zk_driver(self):
        self.assertIsInstance(self.driver, zk.ZooKeeperDriver)

    def test_concurrency_mode(self):
        threading_mode = utils.concurrency_mode_threading()
        self.assertEqual('threading' if threading_mode else 'eventlet',
                         self.driver._model.name)
        if threading_mode:
            self.assertNotIn('eventlet', sys.modules)

    def test_join_is_up_and_stop_leaves(self):
        service = mock.MagicMock()
        stop = service.stop
        self.assertFalse(self._up('fake-host'))
        self.servicegroup_api.join('fake-host', 'compute', service)
        self.assertTrue(self._wait(lambda: self._up('fake-host')))
        self.assertFalse(self._up('other-host'))
        service.stop()
        stop.assert_called_once_with()
        self.assertTrue(self._wait(lambda: not self._up('fake-host'), 1.0))

    def test_node_name_is_per_process(self):
        self.servicegroup_api.join('fake-host', 'compute', None)
        children = self.driver._session.call(
            zookeeper.get_children, self.prefix + '/compute', None)
        self.assertEqual(1, len(children))
        host, token = children[0].rsplit('@', 1)
        self.assertEqual('fake-host', host)
        self.assertTrue(token.startswith('%d-' % os.getpid()), token)

    def test_bad_host_is_refused_before_anything_is_written(self):
        self.assertRaises(ValueError, self.servicegroup_api.join,
                          'bad/host', 'compute', None)
        self.assertIsNone(self.driver._session)

    def test_missing_address_is_a_clear_error(self):
        self.flags(address=None, group='zookeeper')
        exc = self.assertRaises(zk.ZooKeeperConfigError, servicegroup.API)
        self.assertIn('[zookeeper] address is not set', str(exc))

    def test_malformed_address_is_a_clear_error(self):
        for address, what in (('zk1:2181,zk2', "'zk2' is not host:port"),
                              ('zk1:21a81', "the port '21a81'"),
                              ('zk1:2181/nova/', 'the chroot /nova/'),
                              ('zk 1:2181', "'zk 1' is not a host")):
            self.flags(address=address, group='zookeeper')
            exc = self.assertRaises(zk.ZooKeeperConfigError,
                                    servicegroup.API)
            self.assertIn('[zookeeper] address %r' % address, str(exc))
            self.assertIn(what, str(exc))

    def test_unresolvable_host_starts_and_says_so(self):
        # a name server down at start: the service starts, the answer is
        # "unknown", and the log names the host
        self.flags(address='no-such-zk.invalid:2181', group='zookeeper')
        api = servicegroup.API()
        self.addCleanup(api._driver._close_at_exit)
        self.patch_first_read(0.2)
        api.join('fake-host', 'compute', None)
        self.assertRaises(zk.ServiceGroupUnavailable, api.service_is_up,
                          {'host': 'fake-host', 'topic': 'compute'})
        self.assertIn('cannot resolve host no-such-zk.invalid of '
                      '[zookeeper] address', self.stdlog.logger.output)

    def test_tls_options_are_checked_at_start(self):
        pem = self.useFixture(fixtures.TempDir()).path
        files = {}
        for option in ('ssl_ca_file', 'ssl_cert_file', 'ssl_key_file'):
            files[option] = os.path.join(pem, option + '.pem')
            with open(files[option], 'w') as f:
                f.write('-----BEGIN CERTIFICATE-----\n')
        self.flags(ssl_ca_file=files['ssl_ca_file'], group='zookeeper')
        exc = self.assertRaises(zk.ZooKeeperConfigError, servicegroup.API)
        self.assertIn('[zookeeper] ssl_cert_file is not set', str(exc))
        self.flags(ssl_cert_file=files['ssl_cert_file'],
                   ssl_key_file=os.path.join(pem, 'missing.pem'),
                   group='zookeeper')
        exc = self.assertRaises(zk.ZooKeeperConfigError, servicegroup.API)
        self.assertIn('[zookeeper] ssl_key_file %s: no such file'
                      % os.path.join(pem, 'missing.pem'), str(exc))
        self.flags(ssl_key_file=files['ssl_key_file'], group='zookeeper')
        if hasattr(zookeeper, 'init_ssl'):
            self.assertIsNotNone(servicegroup.API())
        else:
            # the stock Debian C client: no TLS, and it says so at start
            exc = self.assertRaises(zk.ZooKeeperConfigError,
                                    servicegroup.API)
            self.assertIn('no zookeeper_init_ssl', str(exc))
            self.assertIn('ZOOKEEPER_C_LIBRARY', str(exc))

    def test_unreachable_is_unknown_never_down(self):
        self.flags(address='127.0.0.1:1', group='zookeeper')
        api = servicegroup.API()
        self.addCleanup(api._driver._close_at_exit)
        self.patch_first_read(0.2)
        exc = self.assertRaises(zk.ServiceGroupUnavailable,
                                api.service_is_up,
                                {'host': 'fake-host', 'topic': 'compute'})
        self.assertIn('127.0.0.1:1', str(exc))
        self.assertEqual(503, exc.code)

    def test_refused_without_credentials_says_what_to_set(self):
        # an operator made the tree with credentials; this nova has none
        handle = zookeeper.init(_address(), None, 2000)
        self.addCleanup(zookeeper.close, handle)
        zookeeper.add_auth(handle, 'digest', 'admin:secret', None)
        zookeeper.create(handle, self.prefix, '',
                         zksession.digest_acl('admin:secret', False), 0)
        self.patch_first_read(2.0)
        exc = self.assertRaises(zk.ServiceGroupUnavailable, self._up,
                                'fake-host')
        self.assertIn('refuses this client without credentials (set '
                      'auth_digest)', str(exc))
        self.assertIn('not reporting anything as down', str(exc))

    def patch_first_read(self, seconds):
        self.useFixture_attr(zk, 'FIRST_READ_TIMEOUT', seconds)

    def useFixture_attr(self, obj, name, value):
        old = getattr(obj, name)
        setattr(obj, name, value)
        self.addCleanup(setattr, obj, name, old)

    def test_forked_child_has_a_session_of_its_own(self):
        # conductor and scheduler fork their workers after the driver was
        # made: a child must neither use nor close the parent's session
        self.servicegroup_api.join('parent-host', 'compute', None)
        self.assertTrue(self._wait(lambda: self._up('parent-host')))
        parent_session = self.driver._session.session_id
        report_path = os.path.join(self.useFixture(
            fixtures.TempDir()).path, 'child')
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports in a file
            try:
                if not utils.concurrency_mode_threading():
                    # what oslo.service's ProcessLauncher does in a child:
                    # a hub of its own, not the parent's epoll instance
                    utils.get_eventlet().hubs.use_hub()
                seen = self._wait(lambda: self._up('parent-host'))
                self.servicegroup_api.join('child-host', 'compute', None)
                joined = self._wait(lambda: self._up('child-host'))
                with open(report_path, 'w') as f:
                    f.write('%s %s %d' % (
                        seen, joined, self.driver._session.session_id or 0))
            finally:
                os._exit(0)
        deadline = time.monotonic() + 30
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                self.fail('the child did not finish within 30 s')
            time.sleep(0.05)
        with open(report_path) as f:
            report = f.read()
        seen, joined, child_session = report.split()
        self.assertEqual(('True', 'True'), (seen, joined), report)
        self.assertNotEqual(parent_session, int(child_session))
        self.assertEqual(parent_session, self.driver._session.session_id)
        self.assertTrue(self._up('child-host'))
        self.assertTrue(self._up('parent-host'))

    def test_updated_time(self):
        db_time = datetime.datetime(2016, 4, 18, 2, 56, 25,
                                    tzinfo=datetime.timezone.utc)
        ref = {'host': 'fake-host', 'topic': 'compute', 'updated_at': db_time}
        # not a member: the database's time
        self.assertEqual(db_time, self.servicegroup_api.get_updated_time(ref))
        before = datetime.datetime.now(datetime.timezone.utc)
        self.servicegroup_api.join('fake-host', 'compute', None)
        self.assertTrue(self._wait(lambda: self._up('fake-host')))
        joined = self.servicegroup_api.get_updated_time(ref)
        # the join, by the server's clock (same machine: within a second)
        self.assertLess(abs((joined - before).total_seconds()), 1.0)
        ref['updated_at'] = joined + datetime.timedelta(seconds=60)
        self.assertEqual(ref['updated_at'],
                         self.servicegroup_api.get_updated_time(ref))
