# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Real nova-compute processes on the zk driver against a real ZooKeeper.

Timings are read by an in-process reader (the servicegroup API on its own
ZooKeeper session, polled every 50 ms); nova-manage shows the same state.
"""

import signal
import threading
import time

import eventlet

try:
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg

from nova import exception
from nova import servicegroup
from nova import test
from nova.tests.functional import cloud
from nova.tests import zkserver

CONF = cfg.CONF
CONF.import_opt('address', 'nova.servicegroup.drivers.zk', group='zookeeper')

TICK_MS = 200
RECV_TIMEOUT_MS = 1000


class ZkCloudTestBase(test.TestCase):
    """A ZooKeeper server, a cloud of workers and a reader; no tests."""

    tick_ms = TICK_MS
    recv_timeout_ms = RECV_TIMEOUT_MS

    def setUp(self):
        super(ZkCloudTestBase, self).setUp()
        self.zk = zkserver.ZooKeeperServer(tick_time=self.tick_ms)
        self.addCleanup(self.zk.cleanup)
        self.zk.start()
        self.zk_conf = {'address': '"%s"' % self.zk.address,
                        'recv_timeout': str(self.recv_timeout_ms),
                        'sg_retry_interval': '1'}
        self.cloud = self.useFixture(cloud.Cloud(self.state_path, {
            'DEFAULT': {'servicegroup_driver': '"zk"'},
            'zookeeper': self.zk_conf}))
        self.flags(servicegroup_driver='zk')
        self.flags(address=self.zk.address, recv_timeout=self.recv_timeout_ms,
                   sg_retry_interval=1, group='zookeeper')
        self.reader = servicegroup.API()

    def _up(self, host):
        return self.reader.service_is_up({'host': host, 'topic': 'compute'})

    def _up_again(self, host):
        """Up, for a reader that may itself still be reconnecting."""
        try:
            return self._up(host)
        except exception.ServiceGroupUnavailable:
            return False

    def _start(self, hosts):
        for host in hosts:
            self.cloud.start_worker(host)
        for host in hosts:
            self.wait_for(lambda: self._up(host), 30,
                          message='%s never joined:\n%s' % (
                              host, self.cloud.worker_log(host)))

    def _seconds_until_down(self, host, timeout):
        start = time.time()
        self.wait_for(lambda: not self._up(host), timeout, interval=0.05,
                      message='%s still up after %ss' % (host, timeout))
        return time.time() - start

    def _kill_and_term(self):
        hosts = ['zk-a', 'zk-b', 'zk-c']
        self._start(hosts)
        for host in hosts:
            self.assertEqual(':-)', self.cloud.state_of(host))

        self.cloud.signal('zk-b', signal.SIGKILL)
        bound = (self.recv_timeout_ms + self.tick_ms) / 1000.0 + 1.0
        took = self._seconds_until_down('zk-b', bound + 5)
        self.assertTrue(took <= bound, 'SIGKILL seen after %.2fs > %.2fs'
                        % (took, bound))
        self.assertEqual('XXX', self.cloud.state_of('zk-b'))

        self.cloud.signal('zk-c', signal.SIGTERM)
        took = self._seconds_until_down('zk-c', 5)
        self.assertTrue(took <= 1.0, 'SIGTERM seen after %.2fs' % took)
        self.assertEqual(0, self.cloud.wait_exit('zk-c'))
        self.assertEqual('XXX', self.cloud.state_of('zk-c'))
        self.assertEqual(':-)', self.cloud.state_of('zk-a'))


class ZkWorkersTestCase(ZkCloudTestBase):
    """The faults, on a small tickTime so that expiries take a second."""

    def test_three_workers_kill_and_term(self):
        self._kill_and_term()

    def _watch_for_down(self, hosts, stop):
        """Record every moment a reader saw a live worker down."""
        seen = []

        def watch():
            api = servicegroup.API()
            while not stop.is_set():
                try:
                    for host in hosts:
                        if not api.service_is_up({'host': host,
                                                  'topic': 'compute'}):
                            seen.append((time.time(), host))
                except Exception:
                    # Unavailable while the server restarts: unknown is
                    # not down, which is the point.
                    pass
                eventlet.sleep(0.05)
        return seen, eventlet.spawn(watch)

    def test_zookeeper_restart_within_session_timeout(self):
        hosts = ['zk-a', 'zk-b', 'zk-c']
        self._start(hosts)
        pids = dict((h, self.cloud.workers[h].pid) for h in hosts)
        stop = threading.Event()
        seen, watcher = self._watch_for_down(hosts, stop)
        self.zk.kill()
        self.zk.start()
        eventlet.sleep(3)
        stop.set()
        watcher.wait()
        self.assertEqual([], seen)
        for host in hosts:
            self.assertEqual(':-)', self.cloud.state_of(host))
            self.assertEqual(pids[host], self.cloud.workers[host].pid)
            self.assertIsNone(self.cloud.workers[host].poll())

    def test_zookeeper_down_longer_than_session_timeout(self):
        hosts = ['zk-a', 'zk-b']
        self._start(hosts)
        self.zk.kill()
        eventlet.sleep(3 * self.recv_timeout_ms / 1000.0)
        # Unknown, not down, while it is away.
        rc, out, err = self.cloud.manage('service', 'list')
        self.assertNotEqual(0, rc)
        self.assertNotIn('XXX', out)
        self.assertIn(self.zk.address, err)
        self.zk.start()
        start = time.time()
        for host in hosts:
            self.wait_for(lambda: self._up_again(host), 10)
        self.assertTrue(time.time() - start < 10)
        for host in hosts:
            self.assertEqual(':-)', self.cloud.state_of(host))
            self.assertIsNone(self.cloud.workers[host].poll())

    def test_worker_paused_past_session_timeout_rejoins(self):
        # The server expires the frozen worker's session; on waking it
        # learns "expired", opens a new session and joins again.
        self._start(['zk-a', 'zk-b'])
        self.cloud.signal('zk-b', signal.SIGSTOP)
        try:
            self._seconds_until_down('zk-b', 10)
            self.assertEqual(':-)', self.cloud.state_of('zk-a'))
        finally:
            self.cloud.signal('zk-b', signal.SIGCONT)
        self.wait_for(lambda: self._up('zk-b'), 15,
                      message=self.cloud.worker_log('zk-b'))
        self.assertIsNone(self.cloud.workers['zk-b'].poll())

    def test_unreachable_zookeeper_is_reported_not_down(self):
        self._start(['zk-a'])
        self.zk.kill()
        rc, out, err = self.cloud.manage('service', 'list')
        self.assertNotEqual(0, rc)
        self.assertNotIn('XXX', out)
        self.assertNotIn(':-)', out)
        self.assertIn('Cannot tell which services are up', err)
        self.assertIn(self.zk.address, err)

    def test_duplicate_host_second_fails_first_stays(self):
        self._start(['zk-a'])
        first = self.cloud.workers['zk-a']
        second = self.cloud.start_worker('zk-a')
        self.cloud.workers['zk-a-first'] = first
        self.assertNotEqual(first.pid, second.pid)
        rc = self.cloud.wait_exit('zk-a', timeout=30)
        self.assertEqual(1, rc, self.cloud.worker_log('zk-a'))
        self.assertIn('held by another live ZooKeeper session',
                      self.cloud.worker_log('zk-a'))
        self.assertIsNone(first.poll())
        self.assertTrue(self._up('zk-a'))
        self.assertEqual(':-)', self.cloud.state_of('zk-a'))

    def test_restarted_worker_joins_once_old_session_expires(self):
        self._start(['zk-a'])
        self.cloud.signal('zk-a', signal.SIGKILL)
        self.cloud.wait_exit('zk-a')
        start = time.time()
        self.cloud.start_worker('zk-a')
        self.wait_for(lambda: self.cloud.state_of('zk-a') == ':-)', 30)
        took = time.time() - start
        self.assertIsNone(self.cloud.workers['zk-a'].poll())
        bound = 1.5 * self.recv_timeout_ms / 1000.0 + 1.0 + 3.0
        self.assertTrue(took < bound, took)


class ZkWorkersProductionDefaultsTestCase(ZkCloudTestBase):
    """tickTime 2000 and recv_timeout 4000: what operators run."""

    tick_ms = 2000
    recv_timeout_ms = 4000

    def test_three_workers_kill_and_term(self):
        self._kill_and_term()
