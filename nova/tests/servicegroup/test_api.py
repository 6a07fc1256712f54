# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Unit tests of the ServiceGroup facade."""

from nova import servicegroup
from nova.servicegroup import api
from nova.servicegroup.drivers import db as db_driver
from nova import test


class RecordingDriver(api.ServiceGroupDriver):
    def __init__(self, members=None):
        self.members = members

    def get_all(self, group_id):
        return self.members


class ServiceGroupAPITestCase(test.TestCase):

    def test_default_driver_is_db(self):
        self.assertIsInstance(servicegroup.API()._driver, db_driver.DbDriver)

    def test_one_driver_per_process(self):
        first = servicegroup.API()
        second = servicegroup.API()
        self.assertIsNot(first, second)
        self.assertIs(first._driver, second._driver)

    def test_unknown_driver_names_the_valid_ones(self):
        self.flags(servicegroup_driver='redis')
        e = self.assertRaises(TypeError, servicegroup.API)
        self.assertIn('redis', str(e))
        self.assertIn('db, mc, zk', str(e))

    def test_driver_table(self):
        self.assertEqual(
            {'db': 'nova.servicegroup.drivers.db.DbDriver',
             'zk': 'nova.servicegroup.drivers.zk.ZooKeeperDriver',
             'mc': 'nova.servicegroup.drivers.mc.MemcachedDriver'},
            servicegroup.API._driver_name_class_mapping)

    def test_get_one_picks_a_member_or_none(self):
        self.assertIsNone(RecordingDriver(None).get_one('g'))
        self.assertIsNone(RecordingDriver([]).get_one('g'))
        self.assertEqual('a', RecordingDriver(['a']).get_one('g'))
        self.assertIn(RecordingDriver(set(['a', 'b'])).get_one('g'),
                      ['a', 'b'])

    def test_base_driver_is_abstract(self):
        base = api.ServiceGroupDriver()
        self.assertRaises(NotImplementedError, base.join, 'h', 'g')
        self.assertRaises(NotImplementedError, base.is_up, {})
        self.assertRaises(NotImplementedError, base.leave, 'h', 'g')
        self.assertRaises(NotImplementedError, base.get_all, 'g')

    def test_db_join_requires_service(self):
        self.assertRaises(RuntimeError, servicegroup.API().join, 'h', 'g')
