# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Churn: members join and leave for a minute in one process; nothing grows.

Members come and go through the zk driver (``ZooKeeperDriver.join``, the
timer's ``stop``, ``leave``, ``cleanup``) against a real ZooKeeper, each
worker on its own session as nova-compute processes would be, while a reader
on another session checks that every join and every leave shows.  The
process's descriptors (/proc/self/fd), OS threads (/proc/self/task) and
resident memory (VmRSS) are sampled after a warm-up and at the end, both
times with no churn in flight: descriptors and threads must be equal, RSS
may grow by less than RSS_GROWTH_BOUND_KB.  In the server's view
(``mntr``) no ephemeral node and no session may be left over.

tools/soak.py runs the same churn (the Churn class below) for an hour.

The churn runs for NOVA_CHURN_SECONDS (default 60) seconds after a warm-up
of WARMUP_SECONDS.
"""

import collections
import gc
import logging
import os
import random
import sys
import time
import traceback

import eventlet
import greenlet

try:
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg

from nova.servicegroup.drivers import zk
from nova import test
from nova.tests import zkserver

CONF = cfg.CONF

TICK_MS = 200
RECV_TIMEOUT_MS = 1000
CHURN_SECONDS = float(os.environ.get('NOVA_CHURN_SECONDS', 60))
WARMUP_SECONDS = 8.0
#: RSS may grow this much between the warm-up and the end.  Measured over
#: 60 s (about 1100 sessions, 2300 joins): +0.3 to +0.8 MB; tools/soak.py
#: over 10 minutes (11000 sessions): +0.6 MB after 1 minute, flat after.
RSS_GROWTH_BOUND_KB = 10 * 1024

GROUP = 'churn'


def open_fds():
    return len(os.listdir('/proc/self/fd'))


def fd_kinds(pid='self'):
    """What the descriptors of a process (this one by default) are:
    'socket', 'pipe', a path...  (sorted).

    Inode numbers are left out: a reconnected session has another socket.
    """
    kinds = []
    for fd in os.listdir('/proc/%s/fd' % pid):
        try:
            target = os.readlink('/proc/%s/fd/%s' % (pid, fd))
        except OSError:
            continue
        kinds.append(target.split(':[', 1)[0])
    return sorted(kinds)


def os_threads():
    return len(os.listdir('/proc/self/task'))


def rss_kb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return -1


def live_greenlets():
    gc.collect()
    return sum(1 for g in gc.get_objects()
               if isinstance(g, greenlet.greenlet) and g and not g.dead)


class LogCounter(logging.Handler):
    """Counts the WARNING and worse records of a run by message template.

    While it is on the root logger, Python's last-resort handler prints
    nothing: the counts are the report.
    """

    #: ERROR or CRITICAL records that a duplicate round causes by design.
    EXPECTED = ('Duplicated membership name',)

    #: WARNING records that duplicate rounds cause by design.
    EXPECTED_WARNINGS = ('exists; waiting up to',)

    def __init__(self):
        super(LogCounter, self).__init__(logging.WARNING)
        self.counts = collections.Counter()
        self.samples = []
        self.setFormatter(logging.Formatter(
            '%(asctime)s %(levelname)s %(name)s: %(message)s'))

    def emit(self, record):
        key = (record.levelname, str(record.msg))
        self.counts[key] += 1
        expected = self.EXPECTED if record.levelno >= logging.ERROR else \
            self.EXPECTED_WARNINGS
        if len(self.samples) < 20 and \
                not any(e in key[1] for e in expected):
            try:
                self.samples.append(self.format(record))
            except Exception:
                self.samples.append(repr(key))

    def unexpected_errors(self):
        return dict(((level, msg), n) for (level, msg), n in
                    self.counts.items()
                    if level in ('ERROR', 'CRITICAL') and
                    not any(e in msg for e in self.EXPECTED))

    def describe(self):
        lines = ['%6d %s %s' % (n, level, msg) for (level, msg), n in
                 sorted(self.counts.items())]
        if self.samples:
            lines.append('the first unexpected records:')
            lines.extend(self.samples)
        return '\n'.join(lines)


class Churn(object):
    """Members joining and leaving through the zk driver, in one process.

    ``workers`` green threads run rounds until ``run`` says stop; a round
    of worker w is one of:

    * (most rounds) a new ZooKeeperDriver, so a new session, joins one to
      three fresh host names, reads the group once (a monitor on its own
      session), leaves some of them through the timer join returned, and
      closes the session with cleanup() (the others go with it);
    * (every 4th round of worker 0) the long-lived driver joins a fresh
      name on its one session and leaves it;
    * (every 25th round of worker 1) a second driver tries a name that a
      live session holds: it must fail with DuplicateServiceMember after
      waiting out the holder, and the holder must stay.

    The reader (its own driver and session) must see each join within
    SEEN_TIMEOUT and each leave or close within SEEN_TIMEOUT as well.
    Anything else is an error, counted and kept (the first 20) in
    ``errors``.  Host names are never reused, so that a per-name leak
    shows too.
    """

    SEEN_TIMEOUT = 5.0
    #: A round takes well under a second, a duplicate round 2.5 s.
    STALL_SECONDS = 30

    def __init__(self, mntr, workers=4, seed=None):
        """@param mntr: a callable returning the server's mntr dict."""
        self._mntr = mntr
        self.log = LogCounter()
        logging.getLogger().addHandler(self.log)
        self.workers = workers
        self.random = random.Random(seed)
        self.reader = zk.ZooKeeperDriver()
        self.long_lived = zk.ZooKeeperDriver()
        self.rounds = 0
        self.joins = 0
        self.sessions = 0
        self.duplicates = 0
        self.error_count = 0
        self.errors = []
        self._serial = 0
        self._progress = []
        self._stop = False
        # The group node and the reader's monitor.
        self.reader.get_all(GROUP)

    def close(self):
        self.long_lived.cleanup()
        self.reader.cleanup()
        logging.getLogger().removeHandler(self.log)

    # -- the rounds ---------------------------------------------------------

    def _error(self, what):
        self.error_count += 1
        if len(self.errors) < 20:
            self.errors.append('%.1f %s' % (time.time(), what))

    def _name(self, worker):
        self._serial += 1
        return 'churn-%d-%d' % (worker, self._serial)

    def _members(self):
        try:
            return set(self.reader.get_all(GROUP))
        except Exception:
            return None

    def _wait_seen(self, hosts, present):
        deadline = time.monotonic() + self.SEEN_TIMEOUT
        while time.monotonic() < deadline:
            members = self._members()
            if members is not None:
                if present and set(hosts) <= members:
                    return True
                if not present and not set(hosts) & members:
                    return True
            eventlet.sleep(0.01)
        self._error('reader: %s not %s within %ss' % (
            sorted(hosts), 'joined' if present else 'gone',
            self.SEEN_TIMEOUT))
        return False

    def _pause(self):
        eventlet.sleep(self.random.uniform(0, 0.05))

    def _session_round(self, worker):
        driver = zk.ZooKeeperDriver()
        self.sessions += 1
        try:
            hosts = [self._name(worker)
                     for _i in range(self.random.randint(1, 3))]
            timers = [driver.join(host, GROUP) for host in hosts]
            self.joins += len(hosts)
            if not self._wait_seen(hosts, True):
                return
            own_view = set(driver.get_all(GROUP))
            if not set(hosts) <= own_view:
                self._error('own monitor misses %s' % sorted(hosts))
            self._pause()
            leaving = hosts[:self.random.randint(0, len(hosts))]
            for host, timer in zip(hosts, timers):
                if host in leaving:
                    timer.stop()
            if leaving:
                self._wait_seen(leaving, False)
            self._pause()
        finally:
            driver.cleanup()
        self._wait_seen(hosts, False)

    def _same_session_round(self, worker):
        host = self._name(worker)
        timer = self.long_lived.join(host, GROUP)
        self.joins += 1
        if self._wait_seen([host], True):
            self._pause()
        timer.stop()
        self._wait_seen([host], False)

    def _duplicate_round(self, worker):
        host = self._name(worker)
        holder = self.long_lived.join(host, GROUP)
        try:
            if not self._wait_seen([host], True):
                return
            intruder = zk.ZooKeeperDriver()
            self.sessions += 1
            try:
                intruder.join(host, GROUP)
            except zk.DuplicateServiceMember:
                self.duplicates += 1
            else:
                self._error('duplicate %s accepted' % host)
            finally:
                intruder.cleanup()
            members = self._members()
            if members is None or host not in members:
                self._error('holder of %s lost its node' % host)
        finally:
            holder.stop()
        self._wait_seen([host], False)

    def _worker(self, worker):
        round_number = 0
        while not self._stop:
            round_number += 1
            try:
                if worker == 0 and round_number % 4 == 0:
                    self._same_session_round(worker)
                elif worker == 1 and round_number % 25 == 0:
                    self._duplicate_round(worker)
                else:
                    self._session_round(worker)
            except Exception as e:
                self._error('round of worker %d: %s: %s' % (
                    worker, type(e).__name__, e))
                eventlet.sleep(0.5)
            self.rounds += 1
            self._progress[worker] = time.monotonic()

    def run(self, seconds, on_tick=None, tick=None):
        """Churn for ``seconds``, then let every round finish.

        ``on_tick()`` is called every ``tick`` seconds meanwhile (samples
        taken during the churn).  A worker whose round does not finish
        within STALL_SECONDS is a stall: an error, with its stack; the
        workers are then killed.  Returns False after a stall.
        """
        self._stop = False
        self._progress = [time.monotonic()] * self.workers
        threads = [eventlet.spawn(self._worker, worker)
                   for worker in range(self.workers)]
        deadline = time.monotonic() + seconds
        next_tick = time.monotonic() + (tick or seconds)
        stalled = False
        while not stalled:
            now = time.monotonic()
            if now >= deadline:
                self._stop = True
                if all(t.dead for t in threads):
                    break
            eventlet.sleep(0.2 if now < deadline else 0.05)
            if on_tick is not None and tick and time.monotonic() >= next_tick:
                next_tick += tick
                on_tick(self.sample(settle=False))
            for worker, thread in enumerate(threads):
                if not thread.dead and time.monotonic() - \
                        self._progress[worker] > self.STALL_SECONDS:
                    stalled = True
                    frame = getattr(thread, 'gr_frame', None)
                    self._error('worker %d stalled: no round finished in '
                                '%ds\n%s' % (
                                    worker, self.STALL_SECONDS,
                                    ''.join(traceback.format_stack(frame))
                                    if frame is not None else ''))
        self._stop = True
        for thread in threads:
            thread.kill()
        return not stalled

    # -- what is measured ---------------------------------------------------

    def settle(self):
        """Let ended green threads and joined OS threads go away."""
        count = os_threads()
        for _i in range(60):
            eventlet.sleep(0.05)
            now = os_threads()
            if now == count:
                break
            count = now
        gc.collect()
        eventlet.sleep(0.1)

    def server_counts(self):
        try:
            stats = self._mntr()
        except (OSError, IOError) as e:
            self._error('mntr: %s' % e)
            return {}
        return {'ephemerals': int(stats.get('zk_ephemerals_count', -1)),
                'sessions': int(stats.get('zk_global_sessions', -1)),
                'znodes': int(stats.get('zk_znode_count', -1))}

    def sample(self, settle=True):
        if settle:
            self.settle()
        values = {'time': time.time(), 'fds': open_fds(),
                  'threads': os_threads(), 'rss_kb': rss_kb(),
                  'greenlets': live_greenlets(), 'rounds': self.rounds,
                  'joins': self.joins, 'sessions_opened': self.sessions,
                  'duplicates': self.duplicates,
                  'errors': self.error_count,
                  'log_errors': sum(self.log.unexpected_errors().values())}
        values.update(self.server_counts())
        return values


def format_sample(sample):
    keys = ['fds', 'threads', 'rss_kb', 'greenlets', 'ephemerals',
            'sessions', 'znodes', 'rounds', 'joins', 'sessions_opened',
            'duplicates', 'errors', 'log_errors']
    return ' '.join('%s=%s' % (k, sample.get(k)) for k in keys)


def compare(start, end, rss_bound_kb=RSS_GROWTH_BOUND_KB):
    """What grew between two settled samples: a list of messages."""
    problems = []
    for key in ('fds', 'threads', 'greenlets', 'ephemerals', 'sessions',
                'znodes'):
        if end.get(key) != start.get(key):
            problems.append('%s: %s -> %s' % (
                key, start.get(key), end.get(key)))
    growth = end['rss_kb'] - start['rss_kb']
    if growth >= rss_bound_kb:
        problems.append('rss: %d kB -> %d kB (+%d kB >= %d kB)' % (
            start['rss_kb'], end['rss_kb'], growth, rss_bound_kb))
    if end['errors']:
        problems.append('%d errors' % end['errors'])
    if end['log_errors']:
        problems.append('%d unexpected ERROR/CRITICAL log records'
                        % end['log_errors'])
    return problems


class ZkChurnTestCase(test.TestCase):

    TIMEOUT_SECS = int(CHURN_SECONDS + WARMUP_SECONDS + 120)

    def setUp(self):
        super(ZkChurnTestCase, self).setUp()
        self.zk = zkserver.ZooKeeperServer(tick_time=TICK_MS)
        self.addCleanup(self.zk.cleanup)
        self.zk.start()
        self.flags(servicegroup_driver='zk')
        self.flags(address=self.zk.address, recv_timeout=RECV_TIMEOUT_MS,
                   sg_retry_interval=1, group='zookeeper')

    def test_churn_leaves_nothing_behind(self):
        churn = Churn(self.zk.mntr, seed=1)
        self.addCleanup(churn.close)
        self.assertTrue(churn.run(WARMUP_SECONDS), churn.errors)
        start = churn.sample()
        start_fds = fd_kinds()
        middle = []
        finished = churn.run(CHURN_SECONDS, on_tick=middle.append,
                             tick=CHURN_SECONDS / 3.0)
        end = churn.sample()
        lines = ['start  %s' % format_sample(start)]
        lines += ['during %s' % format_sample(s) for s in middle]
        lines += ['end    %s' % format_sample(end)]
        sys.stderr.write('\n[figures] churn %.0fs: rss growth %+d kB, '
                         '%d sessions, %d joins\n%s\n' % (
                             CHURN_SECONDS, end['rss_kb'] - start['rss_kb'],
                             end['sessions_opened'] -
                             start['sessions_opened'],
                             end['joins'] - start['joins'],
                             '\n'.join(lines)))
        report = '\n'.join(lines + churn.errors + [churn.log.describe()])
        sys.stderr.write(churn.log.describe() + '\n')

        self.assertEqual([], churn.errors, report)
        self.assertTrue(finished, report)
        self.assertEqual({}, churn.log.unexpected_errors(), report)
        # It churned: hundreds of sessions, none of them stuck.
        self.assertTrue(end['sessions_opened'] - start['sessions_opened'] >=
                        5 * CHURN_SECONDS, report)
        self.assertTrue(end['duplicates'] > start['duplicates'], report)
        self.assertEqual(start['fds'], end['fds'], report)
        self.assertEqual(start_fds, fd_kinds(), report)
        self.assertEqual(start['threads'], end['threads'], report)
        self.assertEqual(start['greenlets'], end['greenlets'], report)
        self.assertTrue(end['rss_kb'] - start['rss_kb'] < RSS_GROWTH_BOUND_KB,
                        report)
        # The server's view: the reader's and the long-lived driver's
        # sessions, no member node, nothing else.
        self.assertEqual(0, end['ephemerals'], report)
        self.assertEqual(start['ephemerals'], end['ephemerals'], report)
        self.assertEqual(start['sessions'], end['sessions'], report)
        self.assertEqual(2, end['sessions'], report)
        self.assertEqual(start['znodes'], end['znodes'], report)
        self.assertEqual([], compare(start, end), report)
        churn.close()
        # Closing the last two sessions leaves none.
        self.wait_for(lambda: churn.server_counts()['sessions'] == 0, 5)
