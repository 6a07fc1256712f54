# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Bad names, bad options and SIGHUP, with real workers and nova-manage."""

import os
import re
import signal
import sys
import time

from nova import context
from nova import db
from nova.tests.functional import cloud
from nova.tests.functional import test_zk_workers
from nova.tests import zkserver

# U+1F600: outside the Basic Multilingual Plane, refused by ZooKeeper.
EMOJI_HOST = u'compute-\U0001f600'


class ZkBadInputTestCase(test_zk_workers.ZkCloudTestBase):

    def _rows(self):
        return [(s['host'], s['topic'])
                for s in db.service_get_all(context.get_admin_context())]

    def test_refused_host_fails_before_writing_its_row(self):
        self._start(['good'])
        proc = self.cloud.start_worker(EMOJI_HOST)
        self.assertEqual(1, self.cloud.wait_exit(EMOJI_HOST))
        log = self.cloud.worker_log(EMOJI_HOST)
        self.assertIn('cannot be a member name', log)
        self.assertIn('U+1F600', log)
        self.assertNotEqual(0, proc.returncode)
        self.assertEqual([('good', 'compute')], self._rows())
        self.assertEqual({'good': (':-)', 'enabled')},
                         self.cloud.service_list())

    def test_row_that_cannot_be_a_member_is_down_not_unknown(self):
        self._start(['good'])
        # Rows written before this release checked names, or by hand.
        db.service_create(context.get_admin_context(), {
            'host': 'bad\thost', 'binary': 'nova-compute',
            'topic': 'compute', 'report_count': 0})
        db.service_create(context.get_admin_context(), {
            'host': 'other', 'binary': 'nova-compute',
            'topic': 'com\x7fpute', 'report_count': 0})
        rc, out, err = self.cloud.manage('service', 'list')
        self.assertEqual(0, rc, err)
        states = dict((line.split()[1], line.split()[4])
                      for line in out.splitlines()[1:] if line.strip())
        self.assertEqual(':-)', states['good'])
        self.assertEqual('XXX', states['other'])
        self.assertEqual(2, out.count('XXX'), out)

    def test_sighup_leaves_at_once(self):
        self._start(['hup'])
        self.cloud.signal('hup', signal.SIGHUP)
        took = self._seconds_until_down('hup', 5)
        self.assertTrue(took <= 1.0, 'SIGHUP seen after %.2fs' % took)
        self.assertEqual(0, self.cloud.wait_exit('hup'))

    def _updated_at(self, host):
        rc, out, err = self.cloud.manage('service', 'list')
        for line in out.splitlines()[1:]:
            fields = line.split()
            if fields[1] == host:
                return ' '.join(fields[5:])

    def test_updated_at_is_when_the_worker_started(self):
        before = time.time()
        self._start(['fresh'])
        first = self._updated_at('fresh')
        self.assertNotEqual('None', first)
        started = time.mktime(time.strptime(first[:19], '%Y-%m-%d %H:%M:%S'))
        # (UTC in the row, compared as UTC)
        self.assertTrue(abs(started - (before - time.timezone)) < 60, first)
        self.cloud.signal('fresh', signal.SIGTERM)
        self._seconds_until_down('fresh', 5)
        self.cloud.wait_exit('fresh')
        self._start(['fresh'])
        again = self._updated_at('fresh')
        self.assertTrue(again > first, (first, again))


class CommandLineErrorsTestCase(test_zk_workers.ZkCloudTestBase):
    """A mistake in nova.conf ends a command with one line naming it."""

    def _run(self, module, sections):
        path = os.path.join(self.state_path, 'extra.conf')
        cloud.write_conf(path, sections)
        cmd = self.cloud._command(module, [path])
        if module == 'nova.cmd.manage':
            cmd += ['service', 'list']
        import subprocess
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=cloud._env())
        out, err = proc.communicate()
        return proc.returncode, err.decode('utf-8', 'replace')

    def _assert_one_line(self, module, sections, *expected):
        """Fails, without a traceback, its last line naming the mistake.

        (nova-compute's log, on stderr when there is no log file, may say
        it once more before.)
        """
        rc, err = self._run(module, sections)
        self.assertNotEqual(0, rc, err)
        self.assertNotIn('Traceback', err)
        lines = err.strip().splitlines()
        self.assertTrue(1 <= len(lines) <= 2, err)
        for text in expected:
            self.assertIn(text, lines[-1])

    def test_mistyped_values(self):
        # (nova-manage has no report_interval: it ignores that one)
        self._assert_one_line('nova.cmd.compute',
                              {'DEFAULT': {'report_interval': 'abc'}},
                              'report_interval', 'abc')
        for module in ('nova.cmd.compute', 'nova.cmd.manage'):
            self._assert_one_line(module,
                                  {'zookeeper': {'recv_timeout': '4000.5'}},
                                  'recv_timeout', '4000.5')

    def test_log_file_in_a_missing_folder(self):
        path = os.path.join(self.state_path, 'no', 'such', 'nova.log')
        for module in ('nova.cmd.compute', 'nova.cmd.manage'):
            self._assert_one_line(module, {'DEFAULT': {'log_file': path}},
                                  'log file', path)

    def test_zero_retry_interval(self):
        self._assert_one_line('nova.cmd.compute',
                              {'zookeeper': {'sg_retry_interval': '0'}},
                              '[zookeeper] sg_retry_interval')


class ZkServerCommandTestCase(test_zk_workers.ZkCloudTestBase):
    """tools/zkserver start on a port that is taken says so."""

    def test_port_in_use(self):
        root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.dirname(os.path.abspath(__file__)))))
        state = os.path.join(self.state_path, 'zkserver')
        import subprocess
        start = time.time()
        proc = subprocess.Popen(
            [sys.executable, '-m', 'nova.tests.zkserver', 'start', '--port',
             str(self.zk.port), '--dir', state], cwd=root,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = proc.communicate()[0].decode('utf-8', 'replace')
        self.assertNotEqual(0, proc.returncode, out)
        self.assertNotIn('zkserver: started', out)
        self.assertTrue(re.search(r'port %d .*in use' % self.zk.port, out),
                        out)
        self.assertTrue(time.time() - start < 30)
        self.assertEqual('imok', zkserver.four_letter('127.0.0.1',
                                                      self.zk.port, 'ruok'))

    def test_server_that_dies_at_start_shows_its_log(self):
        # A port bound but not listening: the check that another server
        # answers there passes, and ZooKeeper cannot bind it.
        import socket
        import subprocess
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(('127.0.0.1', 0))
        port = holder.getsockname()[1]
        root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.dirname(os.path.abspath(__file__)))))
        state = os.path.join(self.state_path, 'zkserver-dies')
        proc = subprocess.Popen(
            [sys.executable, '-m', 'nova.tests.zkserver', 'start', '--port',
             str(port), '--dir', state], cwd=root,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = proc.communicate(timeout=120)[0].decode('utf-8', 'replace')
        self.assertNotEqual(0, proc.returncode, out)
        self.assertNotIn('zkserver: started', out)
        self.assertIn('its log is %s' % state, out)
        # ZooKeeper's own words on why it stopped, from its log
        self.assertIn('Address already in use', out)
        self.assertFalse(os.path.exists(os.path.join(state, 'server.pid')))
