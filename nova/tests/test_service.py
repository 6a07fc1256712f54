# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Unit tests for the service lifecycle (nova.service)."""

import eventlet

from nova import context
from nova import db
from nova import exception
from nova import manager
from nova import service
from nova import test


class FakeManager(manager.Manager):
    """Fake manager for tests."""

    def __init__(self, *args, **kwargs):
        super(FakeManager, self).__init__(*args, **kwargs)
        self.calls = []

    def init_host(self):
        self.calls.append('init_host')

    def test_method(self):
        return 'manager'


class ServiceTestCase(test.TestCase):
    def setUp(self):
        super(ServiceTestCase, self).setUp()
        self.flags(servicegroup_driver='db', report_interval=1)
        self.ctxt = context.get_admin_context()

    def _create(self, host='foo'):
        serv = service.Service(host, 'nova-fake', 'fake',
                               'nova.tests.test_service.FakeManager', 1, 1)
        self.addCleanup(serv.kill)
        return serv

    def test_start_creates_row_once(self):
        serv = self._create()
        serv.start()
        ref = db.service_get_by_args(self.ctxt, 'foo', 'nova-fake')
        self.assertEqual('fake', ref['topic'])
        self.assertEqual('nova', ref['availability_zone'])
        self.assertFalse(ref['disabled'])
        self.assertEqual(['init_host'], serv.manager.calls)
        serv.stop()
        again = self._create()
        again.start()
        self.assertEqual(ref['id'], again.service_id)
        self.assertEqual(1, len(db.service_get_all(self.ctxt)))

    def test_new_services_disabled_by_flag(self):
        self.flags(enable_new_services=False)
        serv = self._create()
        serv.start()
        self.assertTrue(db.service_get(self.ctxt, serv.service_id)['disabled'])

    def test_heartbeat_bumps_report_count(self):
        serv = self._create()
        serv.start()
        self.wait_for(lambda: db.service_get(
            self.ctxt, serv.service_id)['report_count'] >= 2, 5)
        serv.stop()
        count = db.service_get(self.ctxt, serv.service_id)['report_count']
        eventlet.sleep(1.5)
        self.assertEqual(count, db.service_get(
            self.ctxt, serv.service_id)['report_count'])

    def test_kill_deletes_row(self):
        serv = self._create()
        serv.start()
        serv.kill()
        self.assertRaises(exception.HostBinaryNotFound,
                          db.service_get_by_args, self.ctxt, 'foo',
                          'nova-fake')

    def test_create_defaults(self):
        self.flags(host='node-7', report_interval=7)
        serv = service.Service.create(binary='nova-compute')
        self.assertEqual('node-7', serv.host)
        self.assertEqual('compute', serv.topic)
        self.assertEqual(7, serv.report_interval)
        self.assertEqual('nova.compute.manager.ComputeManager',
                         serv.manager_class_name)
