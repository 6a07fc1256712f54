# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Real nova-compute processes with the db driver, read by nova-manage."""

import os
import signal

from nova import test
from nova.tests.functional import cloud


class DbWorkersTestCase(test.TestCase):

    def setUp(self):
        super(DbWorkersTestCase, self).setUp()
        self.cloud = self.useFixture(cloud.Cloud(self.state_path, {
            'DEFAULT': {'servicegroup_driver': '"db"',
                        'report_interval': '1',
                        'service_down_time': '3'}}))

    def test_three_workers_kill_and_term(self):
        hosts = ['node-a', 'node-b', 'node-c']
        for host in hosts:
            self.cloud.start_worker(host)
        for host in hosts:
            self.cloud.wait_for_state(host, ':-)', 30)
        rc, out, err = self.cloud.manage('service', 'list')
        header = out.splitlines()[0].split()
        self.assertEqual(['Binary', 'Host', 'Zone', 'Status', 'State',
                          'Updated_At'], header)

        self.cloud.signal('node-b', signal.SIGKILL)
        took = self.cloud.wait_for_state('node-b', 'XXX', 3 + 1 + 5)
        # Down only once service_down_time has passed since the last beat.
        self.assertTrue(took > 1.0, took)
        self.assertEqual(':-)', self.cloud.state_of('node-a'))

        self.cloud.signal('node-c', signal.SIGTERM)
        self.assertEqual(0, self.cloud.wait_exit('node-c'))
        self.cloud.wait_for_state('node-c', 'XXX', 3 + 1 + 5)
        self.assertEqual(':-)', self.cloud.state_of('node-a'))
        self.assertIn('Caught signal', self.cloud.worker_log('node-c'))

    def test_filters_enable_disable_and_errors(self):
        self.cloud.start_worker('node-a')
        self.cloud.start_worker('node-b')
        self.cloud.wait_for_state('node-a', ':-)', 30)
        self.cloud.wait_for_state('node-b', ':-)', 30)
        rc, out, err = self.cloud.manage('service', 'list', '--host',
                                         'node-a')
        self.assertEqual(0, rc)
        self.assertEqual(2, len(out.splitlines()), out)
        rc, out, err = self.cloud.manage('service', 'list', '--service',
                                         'nova-scheduler')
        self.assertEqual(1, len(out.splitlines()), out)

        rc, out, err = self.cloud.manage('service', 'disable', '--host',
                                         'node-a', '--service', 'nova-compute')
        self.assertEqual(0, rc, err)
        self.assertEqual('disabled', self.cloud.service_list()['node-a'][1])
        rc, out, err = self.cloud.manage('service', 'enable', '--host',
                                         'node-a', '--service', 'nova-compute')
        self.assertEqual('enabled', self.cloud.service_list()['node-a'][1])

        rc, out, err = self.cloud.manage('service', 'disable', '--host',
                                         'nowhere', '--service',
                                         'nova-compute')
        self.assertEqual(1, rc)
        self.assertIn('nowhere', err)
        rc, out, err = self.cloud.manage('service', 'disable', '--host',
                                         'node-a')
        self.assertNotEqual(0, rc)
        self.assertIn('--service', err)
        rc, out, err = self.cloud.manage('service', 'frobnicate')
        self.assertNotEqual(0, rc)
        self.assertIn('invalid choice', err)

    def test_unknown_driver_is_a_clear_error(self):
        rc, out, err = self.cloud.manage('service', 'list', extra_confs=[
            self._conf_file({'DEFAULT': {'servicegroup_driver': 'redis'}})])
        self.assertEqual(1, rc)
        self.assertIn('redis', err)
        self.assertIn('db, mc, zk', err)

    def _conf_file(self, sections):
        path = os.path.join(self.state_path, 'extra.conf')
        cloud.write_conf(path, sections)
        return path
