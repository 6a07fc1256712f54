# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""nova.conf parsing and the generated sample."""

import os
import subprocess
import sys

try:
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg

from nova import config
from nova import test

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CONF = cfg.CONF
CONF.import_opt('report_interval', 'nova.service')


class ConfigTestCase(test.TestCase):

    def _parse(self, text):
        path = os.path.join(self.state_path, 'nova.conf')
        with open(path, 'w') as f:
            f.write(text)
        config.parse_args(['nova-test', '--config-file', path])

    def test_seed_snippet_with_quotes(self):
        # The snippet of the seed document, verbatim, quotes included.
        self._parse('[DEFAULT]\n'
                    'servicegroup_driver="zk"\n'
                    '\n'
                    '[zookeeper]\n'
                    'address="192.168.0.1:2181,192.168.0.2:2181,'
                    '192.168.0.3:2181"\n')
        self.assertEqual('zk', CONF.servicegroup_driver)
        CONF.import_opt('address', 'nova.servicegroup.drivers.zk',
                        group='zookeeper')
        self.assertEqual('192.168.0.1:2181,192.168.0.2:2181,192.168.0.3:2181',
                         CONF.zookeeper.address)

    def test_defaults(self):
        self._parse('[DEFAULT]\n')
        self.assertEqual('db', CONF.servicegroup_driver)
        self.assertEqual(10, CONF.report_interval)
        self.assertEqual(60, CONF.service_down_time)

    def test_bad_integer_names_the_option(self):
        self._parse('[DEFAULT]\nreport_interval=often\n')
        e = self.assertRaises(cfg.Error, getattr, CONF, 'report_interval')
        self.assertIn('report_interval', str(e))

    def test_sample_is_up_to_date(self):
        out = subprocess.check_output(
            [sys.executable, os.path.join(ROOT, 'tools',
                                          'gen_conf_sample.py')])
        with open(os.path.join(ROOT, 'etc', 'nova.conf.sample'), 'rb') as f:
            sample = f.read()
        self.assertEqual(out.decode('utf-8'), sample.decode('utf-8'),
                         'etc/nova.conf.sample is out of date: run '
                         'tools/gen_conf_sample.py -o etc/nova.conf.sample')
