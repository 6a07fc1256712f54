# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Real nova-compute processes with the db driver, read by nova-manage."""

import os

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
        def header_is_grizzlys():
            rc, out, err = self.cloud.manage('service', 'list')
            self.assertEqual(['Binary', 'Host', 'Zone', 'Status', 'State',
                              'Updated_At'], out.splitlines()[0].split())
        cloud.check_kill_and_term(self, self.cloud, 3,
                                  started=header_is_grizzlys)

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
