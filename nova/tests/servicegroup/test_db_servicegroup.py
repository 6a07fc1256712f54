# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Tests of the db ServiceGroup driver, in the shape of Grizzly's."""

import datetime

import eventlet
import fixtures

from nova import context
from nova import db
from nova import exception
from nova.openstack.common import timeutils
from nova import service
from nova import servicegroup
from nova import test


class ServiceFixture(fixtures.Fixture):

    def __init__(self, host, binary, topic):
        super(ServiceFixture, self).__init__()
        self.host = host
        self.binary = binary
        self.topic = topic
        self.serv = None

    def setUp(self):
        super(ServiceFixture, self).setUp()
        self.serv = service.Service(self.host,
                                    self.binary,
                                    self.topic,
                                    'nova.tests.test_service.FakeManager',
                                    1, 1)
        self.addCleanup(self.serv.kill)


class DBServiceGroupTestCase(test.TestCase):

    def setUp(self):
        super(DBServiceGroupTestCase, self).setUp()
        servicegroup.API._driver = None
        self.flags(servicegroup_driver='db')
        self.down_time = 3
        self.flags(enable_new_services=True)
        self.flags(service_down_time=self.down_time)
        self.servicegroup_api = servicegroup.API()
        self._host = 'foo'
        self._binary = 'nova-fake'
        self._topic = 'unittest'
        self._ctx = context.get_admin_context()

    def test_DB_driver(self):
        serv = self.useFixture(
            ServiceFixture(self._host, self._binary, self._topic)).serv
        serv.start()
        service_ref = db.service_get_by_args(self._ctx,
                                             self._host,
                                             self._binary)

        self.assertTrue(self.servicegroup_api.service_is_up(service_ref))
        eventlet.sleep(self.down_time + 1)
        service_ref = db.service_get_by_args(self._ctx,
                                             self._host,
                                             self._binary)

        self.assertTrue(self.servicegroup_api.service_is_up(service_ref))
        serv.stop()
        eventlet.sleep(self.down_time + 1)
        service_ref = db.service_get_by_args(self._ctx,
                                             self._host,
                                             self._binary)
        self.assertFalse(self.servicegroup_api.service_is_up(service_ref))

    def test_get_all(self):
        host1 = self._host + '_1'
        host2 = self._host + '_2'

        serv1 = self.useFixture(
            ServiceFixture(host1, self._binary, self._topic)).serv
        serv1.start()

        serv2 = self.useFixture(
            ServiceFixture(host2, self._binary, self._topic)).serv
        serv2.start()

        service_ref1 = db.service_get_by_args(self._ctx,
                                              host1,
                                              self._binary)
        service_ref2 = db.service_get_by_args(self._ctx,
                                              host2,
                                              self._binary)

        services = self.servicegroup_api.get_all(self._topic)

        self.assertTrue(service_ref1['host'] in services)
        self.assertTrue(service_ref2['host'] in services)

        service_id = self.servicegroup_api.get_one(self._topic)
        self.assertTrue(service_id in services)

    def test_service_is_up(self):
        fts_func = datetime.datetime.fromtimestamp
        fake_now = 1000
        down_time = 5
        self.flags(service_down_time=down_time)
        self.servicegroup_api = servicegroup.API()
        service = {'updated_at': fts_func(fake_now - down_time + 1),
                   'created_at': fts_func(fake_now - 100)}

        timeutils.set_time_override(fts_func(fake_now))
        # Up (equal)
        service = {'updated_at': fts_func(fake_now - down_time),
                   'created_at': fts_func(fake_now - down_time)}
        self.assertTrue(self.servicegroup_api.service_is_up(service))
        # Up
        service = {'updated_at': fts_func(fake_now - down_time + 1),
                   'created_at': fts_func(fake_now - down_time + 1)}
        self.assertTrue(self.servicegroup_api.service_is_up(service))
        # Down
        service = {'updated_at': fts_func(fake_now - down_time - 3),
                   'created_at': fts_func(fake_now - down_time - 3)}
        self.assertFalse(self.servicegroup_api.service_is_up(service))
        # Never updated: created_at counts
        service = {'updated_at': None,
                   'created_at': fts_func(fake_now - 1)}
        self.assertTrue(self.servicegroup_api.service_is_up(service))

    def test_heartbeat_survives_database_outage(self):
        serv = self.useFixture(
            ServiceFixture(self._host, self._binary, self._topic)).serv
        serv.start()
        logs = self.useFixture(fixtures.FakeLogger(
            name='nova.servicegroup.drivers.db'))
        real_update = db.service_update
        outage = {'on': True}

        def flaky_update(*args, **kwargs):
            if outage['on']:
                raise exception.DBError(reason='server gone')
            return real_update(*args, **kwargs)

        self.stubs.Set(db, 'service_update', flaky_update)
        self.wait_for(lambda: serv.model_disconnected, 5)
        eventlet.sleep(2.5)  # more failed beats: still logged only once
        self.assertEqual(1, logs.output.count('model server went away'))
        outage['on'] = False
        self.wait_for(lambda: not serv.model_disconnected, 5)
        self.assertIn('Recovered model server connection!', logs.output)
        count = serv.service_ref['report_count']
        self.wait_for(lambda: serv.service_ref['report_count'] > count, 5)
