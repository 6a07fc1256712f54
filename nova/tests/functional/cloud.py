# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""A small cloud of real processes: nova-compute workers and nova-manage.

Each worker is ``python -m nova.cmd.compute`` with the cloud's nova.conf
plus one file naming its host; ``service_list`` runs ``nova-manage service
list`` and reads its table.  Crashes are real signals.
"""

import os
import signal
import subprocess
import sys
import time

import fixtures

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..',
                                    '..'))


def _env():
    env = dict(os.environ)
    paths = [ROOT, os.path.join(ROOT, 'ports', 'zookeeper'),
             os.path.join(ROOT, 'ports', 'evzookeeper')]
    if env.get('PYTHONPATH'):
        paths.append(env['PYTHONPATH'])
    env['PYTHONPATH'] = os.pathsep.join(paths)
    return env


def write_conf(path, sections):
    """Write ``{'DEFAULT': {...}, 'zookeeper': {...}}`` as an ini file."""
    with open(path, 'w') as f:
        for section in sorted(sections, key=lambda s: s != 'DEFAULT'):
            f.write('[%s]\n' % section)
            for key, value in sorted(sections[section].items()):
                f.write('%s = %s\n' % (key, value))
            f.write('\n')


class Cloud(fixtures.Fixture):
    """Workers and commands sharing one state directory and nova.conf."""

    def __init__(self, state_path, conf):
        super(Cloud, self).__init__()
        self.state_path = state_path
        self.conf = conf
        self.conf_path = os.path.join(state_path, 'nova.conf')
        self.workers = {}

    def setUp(self):
        super(Cloud, self).setUp()
        conf = dict((k, dict(v)) for k, v in self.conf.items())
        conf.setdefault('DEFAULT', {}).setdefault('state_path',
                                                  self.state_path)
        write_conf(self.conf_path, conf)
        self.addCleanup(self.stop_all)
        rc, out, err = self.manage('db', 'sync')
        if rc != 0:
            raise RuntimeError('nova-manage db sync failed: %s%s' % (out, err))

    def _command(self, module, extra_confs=()):
        cmd = [sys.executable, '-m', module, '--config-file', self.conf_path]
        for path in extra_confs:
            cmd += ['--config-file', path]
        return cmd

    def manage(self, *args, **kwargs):
        cmd = self._command('nova.cmd.manage', kwargs.get('extra_confs', ()))
        proc = subprocess.Popen(cmd + list(args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=_env())
        out, err = proc.communicate()
        return (proc.returncode, out.decode('utf-8', 'replace'),
                err.decode('utf-8', 'replace'))

    def service_list(self):
        """{host: (state, status)} from ``nova-manage service list``.

        Raises RuntimeError with the command's error when it fails.
        """
        rc, out, err = self.manage('service', 'list')
        if rc != 0:
            raise RuntimeError('service list failed (rc %d): %s' % (rc, err))
        rows = {}
        for line in out.splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 5:
                rows[fields[1]] = (fields[4], fields[3])
        return rows

    def state_of(self, host):
        return self.service_list().get(host, (None, None))[0]

    def start_worker(self, host, extra=None, prefix=()):
        """Start nova-compute for ``host``.

        ``prefix`` goes before the command (``ip netns exec NS``: a worker
        that a network cut can isolate).
        """
        conf = {'DEFAULT': {'host': host}}
        for section, values in (extra or {}).items():
            conf.setdefault(section, {}).update(values)
        host_conf = os.path.join(self.state_path, 'worker-%s.conf' % host)
        write_conf(host_conf, conf)
        log_path = os.path.join(self.state_path, 'worker-%s.log' % host)
        log = open(log_path, 'ab')
        try:
            proc = subprocess.Popen(
                list(prefix) +
                self._command('nova.cmd.compute', [host_conf]) +
                ['--debug', '--log-file', log_path],
                stdout=log, stderr=subprocess.STDOUT, env=_env())
        finally:
            log.close()
        self.workers[host] = proc
        return proc

    def worker_log(self, host):
        path = os.path.join(self.state_path, 'worker-%s.log' % host)
        try:
            with open(path) as f:
                return f.read()
        except IOError:
            return ''

    def signal(self, host, signum):
        os.kill(self.workers[host].pid, signum)

    def wait_exit(self, host, timeout=15):
        proc = self.workers[host]
        deadline = time.time() + timeout
        while proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        return proc.poll()

    def wait_for_state(self, host, state, timeout, interval=0.1):
        """Seconds until ``host`` shows ``state``; AssertionError if never."""
        start = time.time()
        seen = None
        while True:
            seen = self.state_of(host)
            if seen == state:
                return time.time() - start
            if time.time() - start > timeout:
                raise AssertionError(
                    '%s showed %r, not %r, for %.1fs\n%s' % (
                        host, seen, state, timeout, self.worker_log(host)))
            time.sleep(interval)

    def stop_all(self):
        for proc in self.workers.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()


def check_kill_and_term(test, the_cloud, down_time, started=None):
    """Three workers up; SIGKILL and SIGTERM one each; both read XXX.

    For the heartbeat drivers (db, mc): a killed worker is down only once
    ``down_time`` has passed since its last beat.  ``started`` runs once
    all three show :-).
    """
    hosts = ['node-a', 'node-b', 'node-c']
    for host in hosts:
        the_cloud.start_worker(host)
    for host in hosts:
        the_cloud.wait_for_state(host, ':-)', 30)
    if started:
        started()

    the_cloud.signal('node-b', signal.SIGKILL)
    took = the_cloud.wait_for_state('node-b', 'XXX', down_time + 1 + 5)
    test.assertTrue(took > 1.0, took)
    test.assertEqual(':-)', the_cloud.state_of('node-a'))

    the_cloud.signal('node-c', signal.SIGTERM)
    test.assertEqual(0, the_cloud.wait_exit('node-c'))
    the_cloud.wait_for_state('node-c', 'XXX', down_time + 1 + 5)
    test.assertEqual(':-)', the_cloud.state_of('node-a'))
    test.assertIn('Caught signal', the_cloud.worker_log('node-c'))
