# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Tests of the mc ServiceGroup driver, in the shape of Grizzly's.

Grizzly's tests ran against the in-process fake client; these run against
a real memcached (nova.tests.mcserver) on a loopback port, so the expiry of
the keys, the counters of the server and its crashes are memcached's own.
"""

import datetime
import time

import eventlet
import fixtures
import memcache

from nova import context
from nova import db
from nova import exception
from nova.openstack.common import timeutils
from nova import servicegroup
from nova.servicegroup.drivers import mc
from nova import test
from nova.tests import mcserver
from nova.tests.servicegroup.test_db_servicegroup import ServiceFixture
from nova import utils


class MemcachedServiceGroupTestCase(test.TestCase):

    def setUp(self):
        super(MemcachedServiceGroupTestCase, self).setUp()
        self.server = mcserver.MemcachedServer().start()
        self.addCleanup(self.server.cleanup)
        servicegroup.API._driver = None
        self.flags(servicegroup_driver='mc',
                   memcached_servers=[self.server.address])
        self.down_time = 3
        self.flags(enable_new_services=True)
        self.flags(service_down_time=self.down_time)
        self.servicegroup_api = servicegroup.API()
        self._host = 'foo'
        self._binary = 'nova-fake'
        self._topic = 'unittest'
        self._ctx = context.get_admin_context()
        # A client of its own, to look at the server behind the driver.
        self.mc = memcache.Client([self.server.address])
        self.addCleanup(self.mc.disconnect_all)

    def _service_ref(self, host=None):
        return db.service_get_by_args(self._ctx, host or self._host,
                                      self._binary)

    def _start(self, host=None):
        serv = self.useFixture(ServiceFixture(host or self._host,
                                              self._binary,
                                              self._topic)).serv
        serv.start()
        return serv

    def test_memcached_driver(self):
        serv = self._start()
        service_ref = self._service_ref()
        # The first beat goes out as the service joins.
        self.wait_for(lambda: self.servicegroup_api.service_is_up(
            service_ref), 1)
        eventlet.sleep(self.down_time + 0.5)
        self.assertTrue(self.servicegroup_api.service_is_up(service_ref))

        serv.stop()
        self.assertTrue(self.servicegroup_api.service_is_up(service_ref))
        took = self.wait_for(lambda: not self.servicegroup_api.service_is_up(
            service_ref), self.down_time + 2)
        # The last beat went out at most report_interval (1 s) before the
        # stop, and memcached, counting whole seconds, keeps a key of
        # service_down_time 3 for more than 2 s.
        self.assertTrue(took > 0.9, took)

    def test_join_requires_service(self):
        self.assertRaises(RuntimeError, self.servicegroup_api.join,
                          self._host, self._topic)

    def test_join_returns_the_running_heartbeat(self):
        serv = self._start()
        self.assertEqual(1, len(serv.timers))
        pulse = serv.timers[0]
        self.assertIsInstance(pulse, utils.FixedIntervalLoopingCall)
        self.assertTrue(pulse._running)
        serv.stop()
        self.assertFalse(pulse._running)

    def test_get_all(self):
        host1 = self._host + '_1'
        host2 = self._host + '_2'
        host3 = self._host + '_3'
        self._start(host1)
        self._start(host2)
        self._start(host3)
        eventlet.sleep(0.2)

        services = self.servicegroup_api.get_all(self._topic)
        self.assertEqual(sorted([host1, host2, host3]), sorted(services))
        service_id = self.servicegroup_api.get_one(self._topic)
        self.assertIn(service_id, services)

        # Only the enabled services of the topic count, up or not.
        db.service_update(self._ctx, self._service_ref(host2)['id'],
                          {'disabled': True})
        self.assertEqual(sorted([host1, host3]),
                         sorted(self.servicegroup_api.get_all(self._topic)))
        self.assertEqual([], self.servicegroup_api.get_all('other-topic'))
        self.assertIsNone(self.servicegroup_api.get_one('other-topic'))

        # An enabled row without a key is not a member.
        self.mc.delete('%s:%s' % (self._topic, host3))
        self.assertEqual([host1], self.servicegroup_api.get_all(self._topic))
        self.assertEqual(host1, self.servicegroup_api.get_one(self._topic))

    def test_service_is_up_is_the_key_ttl(self):
        driver = self.servicegroup_api._driver
        ref = {'topic': self._topic, 'host': self._host,
               'updated_at': timeutils.utcnow(), 'created_at': None}

        class Beating(object):
            service_ref = ref
            model_disconnected = False

        # A fresh row of the database does not make a service up.
        self.assertFalse(self.servicegroup_api.service_is_up(ref))
        before = datetime.datetime.utcnow()
        driver._report_state(Beating())
        set_at = time.time()
        value = self.mc.get('unittest:foo')
        self.assertIsInstance(value, datetime.datetime)
        self.assertTrue(abs((value - before).total_seconds()) < 1, value)
        self.assertTrue(self.servicegroup_api.service_is_up(ref))
        eventlet.sleep(1)
        self.assertTrue(self.servicegroup_api.service_is_up(ref))

        self.wait_for(lambda: not self.servicegroup_api.service_is_up(ref),
                      self.down_time + 2)
        gone_after = time.time() - set_at
        self.assertTrue(self.down_time - 1.2 < gone_after <
                        self.down_time + 1.5, gone_after)
        # memcached expired the key itself: nobody deleted it.
        self.assertIsNone(self.mc.get('unittest:foo'))
        stats = self.server.stats()
        self.assertEqual(1, stats['cmd_set'])
        self.assertEqual(0, stats['delete_hits'] + stats['delete_misses'])
        self.assertEqual(0, stats['curr_items'])

    def test_start_needs_memcached_servers(self):
        for value in (None, [], ['']):
            servicegroup.API._driver = None
            self.flags(memcached_servers=value)
            e = self.assertRaises(exception.NovaException, servicegroup.API)
            self.assertIsInstance(e, mc.InvalidMemcachedConfig)
            self.assertIn('memcached_servers', str(e))
            self.assertIn('at least one memcached server', str(e))
        self.assertIsNone(servicegroup.API._driver)

    def test_malformed_memcached_servers(self):
        for value in (['127.0.0.1:port'], ['127.0.0.1:0'],
                      ['127.0.0.1:70000'], ['127.0.0.1:'],
                      [self.server.address, ''], ['a host:11211'],
                      ['a:b:c'], ['inet6:[::1:11211'], ['garbage'],
                      ['localhost'], ['inet6:[::1]']):
            servicegroup.API._driver = None
            self.flags(memcached_servers=value)
            e = self.assertRaises(mc.InvalidMemcachedConfig, servicegroup.API)
            self.assertIn('memcached_servers', str(e))
        for good in (['localhost:11211'], ['inet6:[::1]:11211'],
                     ['unix:/x.sock'],
                     ['inet:10.0.0.1:11211', ' 10.0.0.2:11212 ']):
            self.assertEqual([g.strip() for g in good],
                             mc.check_servers(good))

    def test_unreachable_memcached_is_not_down(self):
        self._start()
        ref = self._service_ref()
        self.wait_for(lambda: self.servicegroup_api.service_is_up(ref), 1)
        self.server.kill()
        self.assertRaises(exception.ServiceGroupUnavailable,
                          self.servicegroup_api.service_is_up, ref)
        self.assertRaises(exception.ServiceGroupUnavailable,
                          self.servicegroup_api.get_all, self._topic)

    def test_heartbeat_survives_memcached_outage(self):
        logs = self.useFixture(fixtures.FakeLogger(
            name='nova.servicegroup.drivers.mc'))
        serv = self._start()
        ref = self._service_ref()
        self.wait_for(lambda: self.servicegroup_api.service_is_up(ref), 1)
        pulse = serv.timers[0]

        self.server.kill()
        self.wait_for(lambda: serv.model_disconnected, 3)
        eventlet.sleep(2.2)  # more failed beats: still logged only once
        self.assertEqual(1, logs.output.count('went away'), logs.output)
        self.assertNotIn('Traceback', logs.output)
        self.assertTrue(pulse._running)
        self.assertFalse(pulse.done.ready())

        self.server.start()  # the same port, and empty
        self.wait_for(lambda: not serv.model_disconnected, 3)
        self.assertEqual(1, logs.output.count('Recovered'), logs.output)
        # The key is back: a beat since the restart put it there.
        self.assertTrue(self.servicegroup_api.service_is_up(ref))
        self.assertFalse(pulse.done.ready())

    def test_one_set_per_report_interval_per_worker(self):
        servs = [self._start('host-%d' % i) for i in range(3)]
        started = dict((serv.host, self._service_ref(serv.host)['updated_at'])
                       for serv in servs)
        eventlet.sleep(0.2)
        before = self.server.stats()['cmd_set']
        eventlet.sleep(3)
        sets = self.server.stats()['cmd_set'] - before
        # 3 workers, report_interval 1, 3 s: about 9 sets.
        self.assertTrue(7 <= sets <= 11, sets)
        self.assertEqual(3, self.server.stats()['curr_items'])

        # As in Grizzly, the heartbeat does not touch the database: the row
        # keeps the time its worker started.
        for serv in servs:
            ref = self._service_ref(serv.host)
            self.assertEqual(0, ref['report_count'])
            self.assertIsNotNone(ref['updated_at'])
            self.assertEqual(started[serv.host], ref['updated_at'])

        for serv in servs:
            serv.stop()
            self.servicegroup_api.leave(serv.host, self._topic)
        eventlet.sleep(0.2)
        before = self.server.stats()['cmd_set']
        eventlet.sleep(1.5)
        self.assertEqual(before, self.server.stats()['cmd_set'])
