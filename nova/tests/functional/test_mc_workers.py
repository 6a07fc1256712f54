# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Real nova-compute processes with the mc driver and a real memcached,
read by nova-manage."""

import time

from nova import test
from nova.tests.functional import cloud
from nova.tests import mcserver


class McWorkersTestCase(test.TestCase):

    def setUp(self):
        super(McWorkersTestCase, self).setUp()
        self.server = mcserver.MemcachedServer().start()
        self.addCleanup(self.server.cleanup)
        self.cloud = self.useFixture(cloud.Cloud(self.state_path, {
            'DEFAULT': {'servicegroup_driver': '"mc"',
                        'memcached_servers': self.server.address,
                        'report_interval': '1',
                        'service_down_time': '3'}}))

    def test_three_workers_kill_and_term(self):
        # A killed worker's key expires service_down_time after its last
        # beat (memcached counts whole seconds).
        cloud.check_kill_and_term(
            self, self.cloud, 3,
            started=lambda: self.assertEqual(
                3, self.server.stats()['curr_items']))

    def test_worker_outlives_memcached_restart(self):
        self.cloud.start_worker('node-a')
        self.cloud.wait_for_state('node-a', ':-)', 30)

        self.server.kill()
        # Unknown is not down: nova-manage says it cannot tell.
        rc, out, err = self.cloud.manage('service', 'list')
        self.assertEqual(3, rc, out + err)
        self.assertIn('Cannot tell which services are up', err)
        self.assertIn('servicegroup_driver=mc', err)

        # The worker notices at its next beat, and keeps beating.
        self._wait_for_log('node-a', 'memcached server went away', 5)
        time.sleep(1.5)
        self.assertIsNone(self.cloud.workers['node-a'].poll())

        self.server.start()  # the same port, and empty
        self.cloud.wait_for_state('node-a', ':-)', 3 + 5)
        self._wait_for_log('node-a', 'Recovered memcached server', 5)
        self.assertIsNone(self.cloud.workers['node-a'].poll())
        log = self.cloud.worker_log('node-a')
        self.assertEqual(1, log.count('memcached server went away'), log)
        self.assertEqual(1, log.count('Recovered memcached server'), log)

    def _wait_for_log(self, host, text, timeout):
        deadline = time.time() + timeout
        while text not in self.cloud.worker_log(host):
            if time.time() > deadline:
                self.fail('%s did not log %r within %ss\n%s' % (
                    host, text, timeout, self.cloud.worker_log(host)))
            time.sleep(0.1)

    def test_worker_without_memcached_servers_refuses_to_start(self):
        self.cloud.start_worker('node-a', {
            'DEFAULT': {'memcached_servers': ''}})
        self.assertEqual(1, self.cloud.wait_exit('node-a'))
        log = self.cloud.worker_log('node-a')
        self.assertIn('memcached_servers', log)
        self.assertIn('at least one memcached server', log)
