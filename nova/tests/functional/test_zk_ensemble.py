# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""The zk driver against a real 3-server ZooKeeper ensemble, with faults.

The driver's ``address`` lists all three servers.  The workers are real
processes (``nova-compute``, or for the 100-member restart the small
multi-member program at the end of this file); the faults are real signals
to real ZooKeeper JVMs and workers, and a real network cut (a network
namespace with a blackhole route) where the machine allows it.

What is read: an in-process reader (the servicegroup API on its own
ZooKeeper session) asks ``service_is_up`` for every worker every 50 ms for
the whole test.  ``ServiceGroupUnavailable`` is "unknown" and recorded
apart from "down": unknown must never be shown as down.  ``nova-manage
service list`` shows the same state at the checkpoints.

The fault steps block (process waits, time.sleep in nova.tests.zkserver,
nova-manage), so they run in an OS thread while the reader's green threads
keep running on the hub of the test's thread.

tickTime is 200 ms and recv_timeout 2000 ms (10 ticks): an election on
loopback takes a fraction of that, so a failover expires no session.

The 100-member restart runs 4 processes of 25 members; each member is its
own ZooKeeperDriver, so its own session, joined through the driver's
``join`` as nova-compute does (100 nova-compute processes, ~0.5 s of CPU
and ~40 MB each to start, cannot restart "at once" on 2 cores).

CffiLockTestCase guards against a bug these tests found in the zookeeper
binding under eventlet.monkey_patch() (a C client thread deadlocked on
cffi's green lock, which hung about one nova-compute start in ten and most
25-session member processes; fixed in e475b62 by resolving every cffi type
and library name at import).

test_leave_during_a_connection_loss_still_removes_the_member shows a bug
of evzookeeper's Membership.leave(): when the delete of the member node
fails on a connection loss, the node stays for as long as the session
lives (the member reads as up after it left).  tools/soak.py found it.

Measured figures of each test are written to stderr as lines that start
with "[figures]".
"""

import sys

if __name__ == '__main__':
    # Run as the multi-member worker program (member_worker_main): green the
    # standard library first, as nova-compute does.
    import eventlet
    eventlet.monkey_patch(os=False)

import argparse  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import eventlet  # noqa: E402

try:  # noqa: E402
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg

from nova import context  # noqa: E402
from nova import db  # noqa: E402
from nova import exception  # noqa: E402
from nova import servicegroup  # noqa: E402
from nova import test  # noqa: E402
from nova.tests.functional import cloud  # noqa: E402
from nova.tests import zkserver  # noqa: E402

CONF = cfg.CONF
CONF.import_opt('address', 'nova.servicegroup.drivers.zk', group='zookeeper')

TICK_MS = 200
RECV_TIMEOUT_MS = 2000
POLL_INTERVAL = 0.05
TOPIC = 'compute'

#: The longest a reader may answer "unknown" in one stretch while one
#: server (leader or follower) of three is killed: the election plus the
#: client's reconnect.  Measured: 0.36 to 0.87 s for the leader, under one
#: 50 ms poll for a follower that served the reader.
UNKNOWN_WINDOW_BOUND = 4.0

#: After the quorum is back (a leader elected): every live worker up again
#: for the reader.  Measured: 0.00 to 0.02 s.
RECOVERY_BOUND = 5.0

#: The 100-member restart: processes x members each, one ZooKeeper session
#: (one ZooKeeperDriver) per member.
RESTART_PROCESSES = 4
RESTART_MEMBERS_PER_PROCESS = 25
#: The members' session timeout: the longest the servers grant (20 ticks),
#: so that the new processes (about 2 s to start on 2 cores) find the old
#: nodes still there and have to wait them out, as restarted workers do.
RESTART_RECV_TIMEOUT_MS = 4000
#: "a few seconds" on top of session timeout + tickTime.
RESTART_SLACK = 4.0
#: The longest a member may read as down: from its old node's deletion (the
#: old session expired) to its new node.  The driver polls every 0.1 s.
RESTART_DOWN_BOUND = 1.5


#: What eventlet prints when a ZooKeeper C client thread blocked on a green
#: lock (cffi's type-parsing lock under monkey_patch) cannot be woken.
CFFI_HANG_SIGNATURE = 'Cannot switch to a different thread'


def in_os_thread(func, *args, **kwargs):
    """Run a blocking ``func`` in an OS thread; the hub keeps running."""
    result = {}

    def run():
        try:
            result['value'] = func(*args, **kwargs)
        except BaseException as e:  # handed to the caller
            result['error'] = e

    thread = threading.Thread(target=run, name='fault-steps')
    thread.daemon = True
    thread.start()
    while thread.is_alive():
        eventlet.sleep(0.02)
    thread.join()
    if 'error' in result:
        raise result['error']
    return result.get('value')


def cpu_seconds(pid):
    """User + system CPU time of a process, in seconds."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(
        os.sysconf('SC_CLK_TCK'))


def figures(test_name, **values):
    """Write a test's measured figures to stderr, one line."""
    parts = []
    for key in sorted(values):
        value = values[key]
        if isinstance(value, float):
            value = '%.2f' % value
        parts.append('%s=%s' % (key, value))
    sys.stderr.write('\n[figures] %s: %s\n' % (test_name, ' '.join(parts)))
    sys.stderr.flush()


class Poller(object):
    """Asks service_is_up for every host every 50 ms (a green thread).

    Each answer is 'up', 'down' or 'unknown' (ServiceGroupUnavailable).
    ``mark`` records what the fault steps did, from any thread.
    """

    def __init__(self, api, hosts, interval=POLL_INTERVAL, topic=TOPIC):
        self.api = api
        self.hosts = list(hosts)
        self.interval = interval
        self.topic = topic
        self.samples = []
        self.marks = []
        self.slowest = 0.0
        self.t0 = time.monotonic()
        self._stopped = False
        self._thread = eventlet.spawn(self._run)

    def answer(self, host):
        try:
            up = self.api.service_is_up({'host': host, 'topic': self.topic})
        except exception.ServiceGroupUnavailable:
            return 'unknown'
        return 'up' if up else 'down'

    def _run(self):
        while not self._stopped:
            now = time.monotonic()
            answers = {}
            for host in self.hosts:
                start = time.monotonic()
                answers[host] = self.answer(host)
                self.slowest = max(self.slowest, time.monotonic() - start)
            self.samples.append((now, answers))
            eventlet.sleep(self.interval)

    def mark(self, what):
        self.marks.append((time.monotonic(), what))

    def stop(self):
        if not self._stopped:
            self._stopped = True
            self._thread.wait()

    def downs(self, hosts=None):
        hosts = self.hosts if hosts is None else hosts
        return [(t - self.t0, host) for t, answers in self.samples
                for host in hosts if answers.get(host) == 'down']

    def windows(self, state, hosts=None):
        """[(start, end)] stretches in which some host answered ``state``."""
        hosts = self.hosts if hosts is None else hosts
        windows = []
        start = None
        for t, answers in self.samples:
            hit = any(answers.get(h) == state for h in hosts)
            if hit and start is None:
                start = t
            elif not hit and start is not None:
                windows.append((start, t))
                start = None
        if start is not None:
            windows.append((start, self.samples[-1][0]))
        return windows

    def largest_gap(self):
        times = [t for t, _answers in self.samples]
        return max([b - a for a, b in zip(times, times[1:])] or [0.0])

    def count(self, state):
        return sum(1 for _t, answers in self.samples
                   for value in answers.values() if value == state)

    def describe(self):
        lines = ['%7.2fs %s' % (t - self.t0, what) for t, what in self.marks]
        for state in ('unknown', 'down'):
            for start, end in self.windows(state):
                lines.append('%7.2fs..%.2fs %s (%.2fs)' % (
                    start - self.t0, end - self.t0, state, end - start))
        return '\n'.join(sorted(lines))


class NetNamespace(object):
    """A network namespace joined to the host by a veth pair.

    The host side gets 10.231.N.1/30 (the ZooKeeper servers listen there),
    the namespace side 10.231.N.2/30.  ``cut`` adds a blackhole route to the
    host address inside the namespace: the worker's packets are silently
    dropped, as in a partition (the servers hear nothing, the worker gets no
    RST); ``heal`` removes it.
    """

    def __init__(self):
        tag = os.getpid() % 100000
        self.name = 'nzk-%d' % tag
        self.host_if = 'vzk%dh' % tag
        self.ns_if = 'vzk%dn' % tag
        self.subnet = None
        self.host_address = None
        self.ns_address = None

    @staticmethod
    def _ip(*args):
        return subprocess.run(('ip',) + args, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE,
                              universal_newlines=True)

    def _must(self, *args):
        result = self._ip(*args)
        if result.returncode != 0:
            raise RuntimeError('ip %s: %s' % (' '.join(args),
                                              result.stderr.strip()))
        return result.stdout

    def _free_subnet(self):
        used = self._ip('-4', '-o', 'addr').stdout
        for n in range(10 + os.getpid() % 200, 255):
            if ' 10.231.%d.' % n not in used:
                return n
        raise RuntimeError('no free 10.231.N.0/30 subnet')

    def create(self):
        if os.geteuid() != 0 or not shutil.which('ip'):
            raise RuntimeError('network namespaces need root and iproute2')
        n = self._free_subnet()
        self.host_address = '10.231.%d.1' % n
        self.ns_address = '10.231.%d.2' % n
        self.destroy()
        try:
            self._must('netns', 'add', self.name)
            self._must('link', 'add', self.host_if, 'type', 'veth', 'peer',
                       'name', self.ns_if)
            self._must('link', 'set', self.ns_if, 'netns', self.name)
            self._must('addr', 'add', self.host_address + '/30', 'dev',
                       self.host_if)
            self._must('link', 'set', self.host_if, 'up')
            self.exec_must('ip', 'addr', 'add', self.ns_address + '/30',
                           'dev', self.ns_if)
            self.exec_must('ip', 'link', 'set', self.ns_if, 'up')
            self.exec_must('ip', 'link', 'set', 'lo', 'up')
        except Exception:
            self.destroy()
            raise
        return self

    def exec_must(self, *cmd):
        return self._must('netns', 'exec', self.name, *cmd)

    def prefix(self):
        return ['ip', 'netns', 'exec', self.name]

    def cut(self):
        self.exec_must('ip', 'route', 'add', 'blackhole',
                       self.host_address + '/32')

    def heal(self):
        self.exec_must('ip', 'route', 'del', 'blackhole',
                       self.host_address + '/32')

    def destroy(self):
        self._ip('link', 'del', self.host_if)
        self._ip('netns', 'del', self.name)


class EnsembleTestBase(test.TestCase):
    """Three ZooKeeper servers, a cloud of workers and a reader."""

    tick_ms = TICK_MS
    recv_timeout_ms = RECV_TIMEOUT_MS

    def zk_host(self):
        return '127.0.0.1'

    def setUp(self):
        super(EnsembleTestBase, self).setUp()
        self.ensemble = zkserver.ZooKeeperEnsemble(
            3, tick_time=self.tick_ms, host=self.zk_host())
        self.addCleanup(self.ensemble.cleanup)
        self.ensemble.start()
        self.zk_conf = {'address': '"%s"' % self.ensemble.address,
                        'recv_timeout': str(self.recv_timeout_ms),
                        'sg_retry_interval': '1'}
        self.cloud = self.useFixture(cloud.Cloud(self.state_path, {
            'DEFAULT': {'servicegroup_driver': '"zk"'},
            'zookeeper': self.zk_conf}))
        self.flags(servicegroup_driver='zk')
        self.flags(address=self.ensemble.address,
                   recv_timeout=self.recv_timeout_ms,
                   sg_retry_interval=1, group='zookeeper')
        self.reader = servicegroup.API()
        # The slowest a killed or cut-off worker may take to show XXX: the
        # server expires a silent session between the timeout and one tick
        # later; one second for the watch and the reader.
        self.timeout = self.recv_timeout_ms / 1000.0
        self.expiry_bound = self.timeout + self.tick_ms / 1000.0 + 1.0

    def _reader_session_id(self):
        return servicegroup.API._driver._session.client_id()[0]

    def _sessions_on(self, i):
        """Session ids of the clients connected to server ``i``."""
        try:
            reply = zkserver.four_letter(self.ensemble.host,
                                         self.ensemble.ports[i], 'cons')
        except (OSError, IOError):
            return set()
        return set(int(m, 16) for m in re.findall(r'sid=0x([0-9a-f]+)',
                                                  reply))

    def _answer(self, host):
        try:
            up = self.reader.service_is_up({'host': host, 'topic': TOPIC})
        except exception.ServiceGroupUnavailable:
            return 'unknown'
        return 'up' if up else 'down'

    def _wait_answer(self, hosts, answer, timeout, message='', poller=None):
        """Seconds until the reader answers ``answer`` for every host (on
        time-out the failure shows ``poller``'s history)."""
        try:
            return self.wait_for(
                lambda: all(self._answer(h) == answer for h in hosts),
                timeout, interval=0.02,
                message='%s not all %s within %ss %s' % (
                    hosts, answer, timeout, message))
        except AssertionError as e:
            if poller is None:
                raise
            self.fail('%s\n%s' % (e, poller.describe()))

    def _start(self, hosts, start_worker=None):
        """Start workers and wait until the reader sees each one up."""
        start_worker = start_worker or self.cloud.start_worker
        for host in hosts:
            start_worker(host)
        for host in hosts:
            try:
                self.wait_for(lambda: self._answer(host) == 'up', 30,
                              interval=0.1)
            except AssertionError:
                log = self.cloud.worker_log(host)
                hint = ''
                if CFFI_HANG_SIGNATURE in log:
                    hint = ' (hung on a green lock: see CffiLockTestCase)'
                self.fail('%s never joined%s:\n%s' % (host, hint, log))
        return dict((h, self.cloud.workers[h].pid) for h in hosts)

    def _assert_same_workers(self, pids):
        for host, pid in pids.items():
            proc = self.cloud.workers[host]
            self.assertEqual(pid, proc.pid, '%s was restarted' % host)
            self.assertIsNone(proc.poll(), '%s exited:\n%s' % (
                host, self.cloud.worker_log(host)))

    def _service_list(self):
        """nova-manage service list, run without blocking the hub."""
        return in_os_thread(self.cloud.service_list)

    def _assert_all_up_in_nova_manage(self, hosts):
        rows = self._service_list()
        states = dict((h, rows.get(h, (None, None))[0]) for h in hosts)
        self.assertEqual(dict((h, ':-)') for h in hosts), states)


class EnsembleFailoverTestCase(EnsembleTestBase):

    def test_follower_then_leader_killed_no_worker_down(self):
        hosts = ['ens-a', 'ens-b', 'ens-c']
        pids = self._start(hosts)
        poller = Poller(self.reader, hosts)
        self.addCleanup(poller.stop)
        eventlet.sleep(0.5)
        # Long enough for an expired session to show: twice the timeout.
        settle = 2 * self.timeout + 1.0
        ensemble = self.ensemble

        # Kill the follower that serves the reader, if one does, so that
        # the reader has to move; else the one with the most sessions.
        reader_sid = self._reader_session_id()
        followers = ensemble.followers()
        follower = max(followers, key=lambda i: (
            reader_sid in self._sessions_on(i), len(self._sessions_on(i))))
        moved = reader_sid in self._sessions_on(follower)

        def faults():
            poller.mark('kill follower server%d (%d sessions%s)' % (
                follower + 1, len(self._sessions_on(follower)),
                ', the reader\'s' if moved else ''))
            ensemble.kill(follower)
            time.sleep(settle)
            poller.mark('restart server%d' % (follower + 1))
            ensemble.start_member(follower)
            ensemble.wait_for_quorum()
            poller.mark('server%d back' % (follower + 1))
            time.sleep(1.0)
            leader = ensemble.leader()
            poller.mark('kill leader server%d' % (leader + 1))
            ensemble.kill(leader)
            ensemble.wait_for_quorum()
            poller.mark('new leader server%d' % (ensemble.leader() + 1))
            time.sleep(settle)
            poller.mark('restart server%d' % (leader + 1))
            ensemble.start_member(leader)
            ensemble.wait_for_quorum()
            poller.mark('server%d back' % (leader + 1))
            time.sleep(1.0)

        in_os_thread(faults)
        poller.stop()
        history = poller.describe()
        unknown = [end - start for start, end in poller.windows('unknown')]
        duration = poller.samples[-1][0] - poller.samples[0][0]
        figures('follower_then_leader_killed',
                reader_was_on_killed_follower=moved,
                unknown_windows=len(unknown),
                longest_unknown_s=max(unknown or [0.0]),
                unknown_total_s=sum(unknown),
                observed_s=duration,
                samples=len(poller.samples),
                slowest_call_s=poller.slowest,
                largest_poll_gap_s=poller.largest_gap())
        sys.stderr.write(history + '\n')

        self.assertEqual([], poller.downs(), 'a live worker read as down:\n'
                         + history)
        self.assertTrue(max(unknown or [0.0]) < UNKNOWN_WINDOW_BOUND,
                        'unknown for too long:\n' + history)
        # Unknown for at most a fifth of the time (two failovers in ~15s).
        self.assertTrue(sum(unknown) < 0.2 * duration, history)
        # service_is_up kept answering, at once, all along.
        self.assertTrue(poller.slowest < 0.5, poller.slowest)
        self.assertTrue(poller.largest_gap() < 1.0, poller.largest_gap())
        self.assertEqual('up', self._answer('ens-a'))
        self._assert_all_up_in_nova_manage(hosts)
        self._assert_same_workers(pids)

    def test_quorum_lost_is_unknown_then_everyone_back(self):
        hosts = ['ens-a', 'ens-b', 'ens-c']
        pids = self._start(hosts)
        poller = Poller(self.reader, hosts)
        self.addCleanup(poller.stop)
        eventlet.sleep(0.5)
        ensemble = self.ensemble
        # The survivor is the reader's server: the hard case, where nothing
        # but that server noticing the loss (a few ticks) and dropping its
        # clients tells the reader (the C client reports the lost
        # connection before it leaves CONNECTED_STATE, see
        # ZKSession._check_state).
        sid = self._reader_session_id()
        victims = [i for i in range(3) if sid not in self._sessions_on(i)]
        self.assertEqual(2, len(victims), 'the reader is on one server')
        poller.mark('kill servers %s (leader %s)' % (
            [v + 1 for v in victims], ensemble.leader() + 1))
        killed_at = time.monotonic()
        in_os_thread(lambda: [ensemble.kill(v) for v in victims])
        # A loaded 2-core CI machine has taken over 4 s for the survivor to
        # notice, so the bound is generous.
        took_unknown = self._wait_answer(hosts, 'unknown',
                                         2 * self.timeout + 4,
                                         poller=poller)
        poller.mark('reader: unknown')
        unknown_from = time.monotonic()

        rc, out, err = in_os_thread(self.cloud.manage, 'service', 'list')
        self.assertEqual(3, rc, (out, err))
        self.assertIn('Cannot tell which services are up', err)
        self.assertIn(self.ensemble.address, err)
        self.assertNotIn('XXX', out)
        self.assertNotIn(':-)', out)
        # Stay without a quorum well past the session timeout.
        lost_until = max(killed_at + 3 * self.timeout,
                         unknown_from + self.timeout)
        eventlet.sleep(max(0.0, lost_until - time.monotonic()))
        restart_at = time.monotonic()
        poller.mark('restart servers')

        def restore():
            for v in victims:
                ensemble.start_member(v, wait=False)
            ensemble.wait_for_quorum()

        in_os_thread(restore)
        quorum_at = time.monotonic()
        poller.mark('quorum back')
        took_up = self._wait_answer(hosts, 'up', 30)
        poller.mark('reader: all up')
        eventlet.sleep(1.0)
        poller.stop()
        history = poller.describe()
        during = [answers for t, answers in poller.samples
                  if unknown_from <= t < restart_at]
        figures('quorum_lost',
                reader_unknown_after_s=took_unknown,
                quorum_lost_s=quorum_at - killed_at,
                election_after_restart_s=quorum_at - restart_at,
                all_up_after_quorum_s=took_up,
                samples_during_loss=len(during))
        sys.stderr.write(history + '\n')

        self.assertEqual([], poller.downs(), history)
        # Unknown (never up from a stale cache, never down) all along.
        self.assertTrue(during)
        self.assertEqual([], [a for a in during
                              if set(a.values()) != set(['unknown'])])
        self.assertTrue(took_up < RECOVERY_BOUND, history)
        self._assert_all_up_in_nova_manage(hosts)
        self._assert_same_workers(pids)

    def test_worker_frozen_past_session_timeout(self):
        # SIGSTOP: the worker (and its C client threads) stop; the server
        # expires the session.  On SIGCONT the client learns "expired" and
        # the worker joins again on a new session, same process.
        hosts = ['ens-a', 'ens-frozen']
        pids = self._start(hosts)
        poller = Poller(self.reader, hosts)
        self.addCleanup(poller.stop)
        self.addCleanup(self._cont, 'ens-frozen')
        eventlet.sleep(0.3)
        poller.mark('SIGSTOP ens-frozen')
        self.cloud.signal('ens-frozen', signal.SIGSTOP)
        took_down = self._wait_answer(['ens-frozen'], 'down',
                                      self.expiry_bound + 5)
        poller.mark('reader: ens-frozen down')
        rows = self._service_list()
        self.assertEqual('XXX', rows['ens-frozen'][0])
        self.assertEqual(':-)', rows['ens-a'][0])
        eventlet.sleep(1.0)
        poller.mark('SIGCONT ens-frozen')
        self.cloud.signal('ens-frozen', signal.SIGCONT)
        took_up = self._wait_answer(['ens-frozen'], 'up', 20,
                                    self.cloud.worker_log('ens-frozen'))
        poller.mark('reader: ens-frozen up')
        poller.stop()
        history = poller.describe()
        figures('worker_frozen', down_after_s=took_down,
                bound_s=self.expiry_bound, up_after_cont_s=took_up)
        sys.stderr.write(history + '\n')

        self.assertTrue(took_down <= self.expiry_bound, history)
        self.assertEqual([], poller.downs(['ens-a']), history)
        self.assertEqual(0, poller.count('unknown'), history)
        self.assertTrue(took_up < 10, history)
        self.assertIn('session expired', self.cloud.worker_log('ens-frozen'))
        self._assert_all_up_in_nova_manage(hosts)
        self._assert_same_workers(pids)

    def test_leave_during_a_connection_loss_still_removes_the_member(self):
        # A member leaves (the timer join returned is stopped, as
        # Service.stop does) while the server of its session does not
        # answer: the delete fails with a connection loss, and the session
        # itself lives on (it moves to another server).  The member must
        # still go; the process may run on for a long time.
        from nova.servicegroup.drivers import zk

        for _attempt in range(20):
            member = zk.ZooKeeperDriver()
            self.addCleanup(member.cleanup)
            timer = member.join('ens-leaver', TOPIC)
            self.wait_for(lambda: self._answer('ens-leaver') == 'up', 10)
            sid = member._session.client_id()[0]
            server = [i for i in range(3) if sid in self._sessions_on(i)]
            if server and server[0] != self.ensemble.leader():
                break
            member.cleanup()  # on the leader: a pause would cost an
            self.wait_for(lambda: self._answer('ens-leaver') == 'down', 10)
        else:
            self.fail('no session landed on a follower')
        server = server[0]
        self.ensemble.pause(server)
        self.addCleanup(self.ensemble.resume, server)
        started = time.monotonic()
        timer.stop()  # blocks until the connection is given up
        took_leave = time.monotonic() - started
        self.ensemble.resume(server)
        session_survived = member._session.client_id()[0] == sid
        try:
            took_down = self._wait_answer(['ens-leaver'], 'down', 10)
        except AssertionError:
            took_down = None
        owners = in_os_thread(self._owners, ['ens-leaver'])
        figures('leave_during_connection_loss',
                leave_returned_after_s=took_leave,
                session_survived=session_survived,
                down_after_s=-1.0 if took_down is None else took_down,
                node_owner='0x%x' % (owners['ens-leaver'] or 0))
        self.assertTrue(session_survived)
        self.assertIsNotNone(
            took_down, 'ens-leaver left, but its node is still there, held '
            'by its live session 0x%x: it reads as up for as long as the '
            'process runs' % sid)
        self.assertIsNone(owners['ens-leaver'])

    def _cont(self, host):
        proc = self.cloud.workers.get(host)
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)

    # -- 100 members restarted at once --------------------------------------

    #: Seconds without a member reporting after which the member
    #: processes are taken as hung.
    STALL = 20

    def _start_members(self, index, hosts, generation, go_file=None):
        """One member process (member_worker_main) for ``hosts``."""
        name = 'members-%d' % index
        report = os.path.join(self.state_path, '%s.%d.report' % (
            name, generation))
        log_path = os.path.join(self.state_path, '%s.%d.log' % (
            name, generation))
        conf = os.path.join(self.state_path, 'members.conf')
        cloud.write_conf(conf, {'zookeeper': {
            'recv_timeout': str(RESTART_RECV_TIMEOUT_MS)}})
        cmd = self.cloud._command('nova.tests.functional.test_zk_ensemble',
                                  [conf])
        cmd += ['--log-file', log_path, '--report', report,
                '--hosts', ','.join(hosts)]
        if go_file:
            cmd += ['--go-file', go_file]
        log = open(log_path + '.out', 'ab')
        try:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                    env=cloud._env())
        finally:
            log.close()
        self.cloud.workers[name] = proc
        return proc, report, log_path

    @staticmethod
    def _read_report(path):
        """{host: ('joined', session id) or ('failed', message)}."""
        results = {}
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except IOError:
            return results
        for line in lines:
            fields = line.split(' ', 2)
            if len(fields) == 3 and fields[0] in ('joined', 'failed'):
                results[fields[1]] = (fields[0], fields[2])
        return results

    def _wait_ready(self, groups, timeout):
        def ready():
            for proc, report, _hosts in groups:
                if proc.poll() is not None:
                    self.fail('member process %d exited' % proc.pid)
                try:
                    with open(report) as f:
                        if 'ready\n' not in f.read():
                            return False
                except IOError:
                    return False
            return True
        self.wait_for(ready, timeout, message='member processes not ready')

    def _wait_reports(self, groups, timeout):
        """Until every process reported every host; returns the seconds.

        Gives up after ``timeout`` seconds, or once members reported, after
        STALL seconds in which no other did (a hung process never reports).
        """
        start = progress = time.monotonic()
        reported = 0
        while True:
            missing = []
            count = 0
            for proc, report, hosts in groups:
                seen = self._read_report(report)
                count += len(seen)
                if len(seen) < len(hosts):
                    missing.append((proc, report, sorted(set(hosts) -
                                                         set(seen))))
            if not missing:
                return time.monotonic() - start
            now = time.monotonic()
            if count > reported:
                reported, progress = count, now
            stalled = reported and now - progress > self.STALL
            if now - start > timeout or stalled or any(
                    proc.poll() is not None for proc, _r, _h in missing):
                break
            eventlet.sleep(0.02)
        details = []
        for proc, _report, _hosts in missing:
            if proc.poll() is None:
                proc.send_signal(signal.SIGUSR1)
        eventlet.sleep(1.0)
        for proc, report, hosts in missing:
            log_path = report[:-len('.report')] + '.log'
            tail = ''
            for path in (log_path + '.out', log_path):
                try:
                    with open(path) as f:
                        tail += f.read()[-12000:]
                except IOError:
                    pass
            details.append('process %d (exit %s): %d members never '
                           'reported (%s...)\n%s' % (
                               proc.pid, proc.poll(), len(hosts),
                               ', '.join(hosts[:3]), tail))
        text = '\n'.join(details)
        hint = ''
        if CFFI_HANG_SIGNATURE in text or 'cffi/api.py' in text:
            hint = ('\nA ZooKeeper C client thread is stuck on cffi\'s green '
                    'lock: see CffiLockTestCase.')
        self.fail('members did not all report within %ss:%s\n%s'
                  % (timeout, hint, text))

    def _owners(self, hosts):
        """{host: ephemeralOwner of its node} read from ZooKeeper."""
        import evzookeeper
        import zookeeper
        session = evzookeeper.ZKSession(self.ensemble.address, timeout=10,
                                        recv_timeout=self.recv_timeout_ms)
        try:
            owners = {}
            for host in hosts:
                try:
                    stat = session.exists('/servicegroups/%s/%s'
                                          % (TOPIC, host))
                    owners[host] = stat['ephemeralOwner']
                except zookeeper.NoNodeException:
                    owners[host] = None
            return owners
        finally:
            session.close()

    def test_hundred_members_restarted_at_once(self):
        # Each member is its own ZooKeeperDriver with its own session, as
        # 100 nova-compute processes would be; they run 25 to a process so
        # that a 2-core machine can restart them all at once.
        per = RESTART_MEMBERS_PER_PROCESS
        hosts = ['member-%03d' % i for i in range(RESTART_PROCESSES * per)]
        groups_of = [hosts[i:i + per] for i in range(0, len(hosts), per)]
        ctxt = context.get_admin_context()
        for host in hosts:
            db.service_create(ctxt, {'host': host, 'binary': 'nova-compute',
                                     'topic': TOPIC, 'report_count': 0,
                                     'availability_zone': 'nova',
                                     'disabled': False})
        first = []
        for i, group in enumerate(groups_of):
            proc, report, _log = self._start_members(i, group, 0)
            first.append((proc, report, group))
        self._wait_reports(first, 90)
        self._wait_answer(hosts, 'up', 10)
        old = {}
        for _proc, report, _group in first:
            for host, (what, value) in self._read_report(report).items():
                self.assertEqual('joined', what, value)
                old[host] = int(value)
        self.assertEqual(len(hosts), len(set(old.values())))

        # The new processes are started now, and told to go right after the
        # kill: 4 Python processes importing nova take 2 to 4 s on a loaded
        # 2-core machine, which would let most old sessions expire first;
        # this way every member finds its old node and has to wait it out.
        go_file = os.path.join(self.state_path, 'members.go')
        second = []
        logs = []
        for i, group in enumerate(groups_of):
            proc, report, log_path = self._start_members(i, group, 1,
                                                         go_file)
            second.append((proc, report, group))
            logs.append(log_path)
        self._wait_ready(second, 60)

        poller = Poller(self.reader, hosts)
        self.addCleanup(poller.stop)
        eventlet.sleep(0.3)
        poller.mark('SIGKILL %d processes, go' % len(first))
        killed_at = time.monotonic()
        for proc, _report, _group in first:
            proc.send_signal(signal.SIGKILL)
        for proc, _report, _group in first:
            proc.wait()
        open(go_file, 'w').close()
        started_in = time.monotonic() - killed_at
        self._wait_reports(second, 30)
        joined_in = time.monotonic() - killed_at
        poller.mark('all reported')
        new = {}
        failed = {}
        for _proc, report, _group in second:
            for host, (what, value) in self._read_report(report).items():
                if what == 'joined':
                    new[host] = int(value)
                else:
                    failed[host] = value
        self.assertEqual({}, failed)
        self._wait_answer(hosts, 'up', 10)
        up_in = time.monotonic() - killed_at
        poller.mark('reader: all up')
        owners = in_os_thread(self._owners, hosts)
        eventlet.sleep(1.0)
        poller.stop()

        down = poller.windows('down')
        per_host_down = {}
        for host in hosts:
            spans = poller.windows('down', [host])
            if spans:
                per_host_down[host] = sum(e - s for s, e in spans)
        duplicate_logs = 0
        for path in logs:
            with open(path) as f:
                duplicate_logs += f.read().count('Duplicated membership name')
        timeout = RESTART_RECV_TIMEOUT_MS / 1000.0
        bound = timeout + self.tick_ms / 1000.0 + RESTART_SLACK
        figures('hundred_restarted', members=len(hosts),
                processes=len(second), start_s=started_in,
                all_joined_s=joined_in, all_up_s=up_in, bound_s=bound,
                hosts_seen_down=len(per_host_down),
                longest_host_down_s=max(per_host_down.values() or [0.0]),
                first_down_at_s=(down[0][0] - killed_at) if down else -1.0,
                duplicate_name_log_lines=duplicate_logs)
        sys.stderr.write(poller.describe() + '\n')

        self.assertEqual(sorted(hosts), sorted(new))
        # Every node now belongs to the new sessions.
        self.assertEqual(new, owners)
        self.assertEqual(set(), set(new.values()) & set(old.values()))
        self.assertTrue(up_in <= bound, 'all up after %.2fs > %.2fs'
                        % (up_in, bound))
        # Each member back as soon as its old session expired.
        self.assertTrue(max(per_host_down.values() or [0.0]) <
                        RESTART_DOWN_BOUND, per_host_down)
        for proc, _report, _group in second:
            self.assertIsNone(proc.poll())
        rows = self._service_list()
        self.assertEqual(dict((h, ':-)') for h in hosts),
                         dict((h, rows.get(h, (None,))[0]) for h in hosts))


class EnsembleNetworkCutTestCase(EnsembleTestBase):
    """A worker in its own network namespace, cut off by a blackhole route.

    The servers listen on the host side of a veth pair; the other workers,
    the reader and nova-manage reach them there from the host's namespace.
    """

    def zk_host(self):
        self.netns = NetNamespace()
        try:
            self.netns.create()
        except (RuntimeError, OSError) as e:
            self.skipTest('no network namespace here (%s); '
                          'test_worker_frozen_past_session_timeout covers '
                          'the cut-off with SIGSTOP' % e)
        self.addCleanup(self.netns.destroy)
        return self.netns.host_address

    def _start_worker_in_netns(self, host):
        conf = os.path.join(self.state_path, 'worker-%s.conf' % host)
        cloud.write_conf(conf, {'DEFAULT': {'host': host}})
        log_path = os.path.join(self.state_path, 'worker-%s.log' % host)
        log = open(log_path, 'ab')
        try:
            proc = subprocess.Popen(
                self.netns.prefix() +
                self.cloud._command('nova.cmd.compute', [conf]) +
                ['--debug', '--log-file', log_path],
                stdout=log, stderr=subprocess.STDOUT, env=cloud._env())
        finally:
            log.close()
        self.cloud.workers[host] = proc
        return proc

    def test_worker_cut_off_from_zookeeper(self):
        hosts = ['ens-a', 'ens-cut']
        pids = self._start(['ens-a'])
        pids.update(self._start(['ens-cut'], self._start_worker_in_netns))
        poller = Poller(self.reader, hosts)
        self.addCleanup(poller.stop)
        eventlet.sleep(0.3)
        poller.mark('cut ens-cut off')
        self.netns.cut()
        healed = []
        self.addCleanup(lambda: healed or self.netns.heal())
        took_down = self._wait_answer(['ens-cut'], 'down',
                                      self.expiry_bound + 5)
        poller.mark('reader: ens-cut down')
        rows = self._service_list()
        self.assertEqual('XXX', rows['ens-cut'][0])
        self.assertEqual(':-)', rows['ens-a'][0])
        # Cut off well past the expiry: the worker keeps running and keeps
        # trying, without spinning.
        pid = self.cloud.workers['ens-cut'].pid
        cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
        eventlet.sleep(3.0)
        cut_cpu = ((cpu_seconds(pid) - cpu_before) /
                   (time.monotonic() - wall_before))
        self.assertIsNone(self.cloud.workers['ens-cut'].poll())
        poller.mark('heal')
        self.netns.heal()
        healed.append(True)
        took_up = self._wait_answer(['ens-cut'], 'up', 20,
                                    self.cloud.worker_log('ens-cut'))
        poller.mark('reader: ens-cut up')
        poller.stop()
        history = poller.describe()
        figures('worker_cut_off', down_after_s=took_down,
                bound_s=self.expiry_bound, up_after_heal_s=took_up,
                cpu_share_while_cut=cut_cpu)
        sys.stderr.write(history + '\n')

        self.assertTrue(took_down <= self.expiry_bound, history)
        self.assertEqual([], poller.downs(['ens-a']), history)
        self.assertEqual(0, poller.count('unknown'), history)
        self.assertTrue(took_up < 10, history)
        # A cut-off client retries; it must not spin (a core is 1.0).
        self.assertTrue(cut_cpu < 0.2, cut_cpu)
        self.assertIn('session expired', self.cloud.worker_log('ens-cut'))
        self._assert_all_up_in_nova_manage(hosts)
        self._assert_same_workers(pids)


CFFI_LOCK_PROBE = r"""
import contextlib
import sys
import eventlet
eventlet.monkey_patch(os=False)       # as nova-compute: before the imports
if sys.argv[2] == 'parsed':
    class NoCompiledDeclarations(object):
        # as where the build wrote none: the binding parses its cdef
        def find_spec(self, name, path=None, target=None):
            if name.startswith('zookeeper._abi_'):
                raise ImportError(name)
    sys.meta_path.insert(0, NoCompiledDeclarations())
import zookeeper
from zookeeper import _ffi
assert _ffi.COMPILED == (sys.argv[2] == 'compiled'), _ffi.COMPILED
zookeeper.set_log_stream(open('/dev/null', 'w'))
events = []
handle = zookeeper.init(sys.argv[1], lambda *args: events.append(args),
                        2000)
# The hub's thread parses a cffi type for the first time (it holds cffi's
# lock, a green lock under monkey_patch) just when the C client delivers
# the session's first event, whose dispatch parses 'uintptr_t'.  Compiled
# declarations have no such lock (the types are parsed at build time).
lock = getattr(_ffi.ffi, '_lock', None) or contextlib.nullcontext()
with lock:
    eventlet.sleep(1.0)
deadline = eventlet.hubs.get_hub().clock() + 5
while not events and eventlet.hubs.get_hub().clock() < deadline:
    eventlet.sleep(0.05)
print('%s lock=%s events=%d state=%d' % (
    sys.argv[2], type(lock).__module__, len(events),
    zookeeper.state(handle)))
sys.stdout.flush()
import os
os._exit(0 if events else 1)
"""


class CffiLockTestCase(test.TestCase):
    """The ZooKeeper binding under eventlet.monkey_patch(): C threads vs
    cffi's type lock.

    nova-compute monkey-patches before it imports the binding, so cffi's
    FFI._lock (and cparser's and model's locks) are eventlet locks.  The
    binding passes type strings to ffi.cast/ffi.new; cffi parses each one
    under that lock the first time, and that first time could be on the C
    client's completion thread (_watcher_dispatch -> _key ->
    ffi.cast('uintptr_t', ...)) or on the helper thread of zookeeper.init
    (_ptr -> ffi.cast('void *', ...)).  If the hub's thread held the lock
    then, the C thread parked in an eventlet hub of its own and was never
    woken ("greenlet.error: Cannot switch to a different thread"): that
    session never delivered another event or completion, and the worker
    hung at start without joining (one nova-compute start in ten here,
    most processes opening 25 sessions at once).  Since e475b62 the binding
    resolves every type and library name at import; this probe holds the
    lock in the hub's thread while the first event arrives.
    """

    def test_c_thread_event_while_the_hub_holds_the_cffi_lock(self):
        server = zkserver.ZooKeeperServer(tick_time=TICK_MS)
        self.addCleanup(server.cleanup)
        server.start()
        for declarations in ('compiled', 'parsed'):
            proc = subprocess.Popen(
                [sys.executable, '-c', CFFI_LOCK_PROBE, server.address,
                 declarations], stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=cloud._env())
            out, err = proc.communicate(timeout=60)
            out = out.decode('utf-8', 'replace')
            err = err.decode('utf-8', 'replace')
            figures('cffi_lock_probe_' + declarations,
                    result=out.strip().replace(' ', ','))
            self.assertEqual(0, proc.returncode,
                             '%s: the session watcher was never called: the '
                             'C client thread is stuck on cffi\'s green lock'
                             '\n%s\n%s' % (declarations, out, err[-2000:]))


# -- the member worker program ---------------------------------------------

def _dump_stacks(signum, frame):
    """SIGUSR1: every green thread's and OS thread's stack to stderr."""
    import gc
    import traceback

    import greenlet
    out = ['--- stacks of process %d' % os.getpid()]
    for ident, top in sys._current_frames().items():
        out.append('OS thread %s:\n%s' % (ident, ''.join(
            traceback.format_stack(top))))
    for g in gc.get_objects():
        if isinstance(g, greenlet.greenlet) and g and g.gr_frame is not None:
            out.append('greenlet %r:\n%s' % (g, ''.join(
                traceback.format_stack(g.gr_frame))))
    sys.stderr.write('\n'.join(out) + '\n')
    sys.stderr.flush()


def member_worker_main(argv):
    """Run many members in one process, each on its own ZooKeeper session.

    usage: python -m nova.tests.functional.test_zk_ensemble
               --config-file nova.conf [--log-file F] --report R
               --hosts h1,h2,... [--go-file G]

    Each host gets its own ZooKeeperDriver (so its own session) and joins
    the compute group through ``join``, all at once in green threads.  A
    line per host goes to the report file: "joined HOST SESSION_ID" once its
    node exists, or "failed HOST ERROR".  Then the process lives on until
    killed.  With --go-file it writes "ready" once imported and set up, and
    joins only when that file exists.
    """
    from nova import config
    from nova.openstack.common import log as logging
    from nova.servicegroup.drivers import zk

    parser = argparse.ArgumentParser()
    parser.add_argument('--report', required=True)
    parser.add_argument('--hosts', required=True)
    parser.add_argument('--go-file')
    args, rest = parser.parse_known_args(argv[1:])
    config.parse_args([argv[0]] + rest)
    logging.setup('nova')
    hosts = args.hosts.split(',')
    report = open(args.report, 'a')

    def write(line):
        report.write(line + '\n')
        report.flush()

    drivers = []

    def member(host):
        driver = zk.ZooKeeperDriver()
        drivers.append(driver)
        try:
            driver.join(host, TOPIC)
        except Exception as e:
            write('failed %s %s: %s' % (host, type(e).__name__, e))
            return
        # Joined now, or retrying in the background (ZooKeeper away).
        while (TOPIC, host) not in driver._memberships:
            eventlet.sleep(0.05)
        write('joined %s %d' % (host, driver._session.client_id()[0]))

    signal.signal(signal.SIGUSR1, _dump_stacks)
    if args.go_file:
        write('ready')
        while not os.path.exists(args.go_file):
            eventlet.sleep(0.005)
    pool = eventlet.GreenPool(len(hosts))
    for host in hosts:
        pool.spawn_n(member, host)
    pool.waitall()
    while True:
        eventlet.sleep(60)


if __name__ == '__main__':
    sys.exit(member_worker_main(sys.argv))
