# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""A randomized fault run with a checker (Jepsen-style) for the zk driver.

One run: a 3-server ZooKeeper ensemble, WORKERS real ``nova-compute``
processes (one in its own network namespace where the machine allows it),
and a reader (the servicegroup API in this process, on its own session)
asking ``service_is_up`` for every worker every 50 ms.  Three lanes of
faults run at once, each in an OS thread, each a sequence of episodes drawn
from the seed (inject, hold, heal, pause):

* the server lane: ``server_kill`` (SIGKILL a server, restart it),
  ``leader_kill`` (the same, to whichever server leads then),
  ``server_pause`` (SIGSTOP a server, SIGCONT), ``quorum_loss`` (SIGKILL
  the leader and a follower, restart both);
* two worker lanes, each owning half of the workers: ``worker_kill``
  (SIGKILL, restart), ``worker_term`` (SIGTERM, restart),
  ``worker_freeze`` (SIGSTOP, SIGCONT), ``worker_partition`` (a blackhole
  route in the worker's namespace, removed), ``member_delete`` (another
  ZooKeeper client deletes a live worker's node, as anyone may under the
  open ACL, or an admin cleaning up: the worker must put it back).

Every fault step is written down with its time (``Truth``) just before it
acts when it takes something away and just after it acts when it gives
something back, so that the ground truth is never kinder to the driver
than what happened.  The checker (``check``) replays the truth next to
every reader sample.  Its rules and their windows are the ``Bounds``
below; each window says why it exists.

The same seed draws the same episodes (lanes, kinds, targets, holds,
gaps); the interleaving of the lanes follows their planned start times,
but how long a restart or an election takes is the machine's, so a replay
is the same schedule, not the same history to the millisecond.
"""

import collections
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

import eventlet

try:
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg

from nova import servicegroup
from nova.servicegroup.drivers import zk
from nova.tests.functional import cloud
from nova.tests.functional import test_zk_churn as churn_tests
from nova.tests.functional import test_zk_ensemble as ensemble_tests
from nova.tests import zkserver

CONF = cfg.CONF
CONF.import_opt('address', 'nova.servicegroup.drivers.zk', group='zookeeper')

TOPIC = 'compute'
WORKERS = 4
#: The small tick of the other fault tests: expiries take about a second,
#: so a few minutes hold many faults.
TICK_MS = 200
RECV_TIMEOUT_MS = 1000

SERVER_KINDS = ('server_kill', 'leader_kill', 'server_pause', 'quorum_loss')
WORKER_KINDS = ('worker_kill', 'worker_term', 'worker_freeze',
                'worker_partition', 'member_delete')
KINDS = SERVER_KINDS + WORKER_KINDS

#: How often each kind is drawn in its lane (quorum loss is the rarest: it
#: makes everything unknown and tests little else).
WEIGHTS = {'server_kill': 3, 'leader_kill': 3, 'server_pause': 3,
           'quorum_loss': 1, 'worker_kill': 3, 'worker_term': 1,
           'worker_freeze': 3, 'worker_partition': 3, 'member_delete': 2}

#: (low, high) seconds a fault is held.  They straddle the session timeout
#: (1.0 s, expired by 1.2 s) and syncLimit (5 ticks, 1.0 s, after which
#: followers give up a paused leader), so that some sessions survive and
#: some expire, some pauses cause an election and some do not.
HOLDS = {'server_kill': (0.5, 4.0), 'leader_kill': (0.5, 4.0),
         'server_pause': (0.3, 3.0), 'quorum_loss': (1.0, 4.0),
         'worker_kill': (0.2, 3.0), 'worker_term': (0.2, 3.0),
         'worker_freeze': (0.3, 4.0), 'worker_partition': (0.3, 4.0),
         'member_delete': (0.0, 0.0)}
#: (low, high) seconds between the end of an episode and the next one.
GAPS = {'servers': (1.0, 4.0), 'workers': (0.5, 3.0)}

Episode = collections.namedtuple('Episode', 'lane at kind target hold')


class Bounds(object):
    """The checker's windows, in seconds, from the run's timeouts."""

    def __init__(self, tick_ms=TICK_MS, recv_timeout_ms=RECV_TIMEOUT_MS):
        self.timeout = recv_timeout_ms / 1000.0
        self.tick = tick_ms / 1000.0
        #: Reader, watch delivery and a loaded 2-core machine: the 1 s the
        #: other fault tests allow on top of timeout + tickTime; plus 2/3
        #: of recv_timeout, as here a server may be paused or killed at the
        #: same time, and a reader on it answers from what it last heard
        #: until its client gives that server up.
        self.margin = 1.0 + 2.0 / 3 * self.timeout
        #: A dead, frozen or cut-off worker must read down this long after
        #: the fault: the server expires a silent session between the
        #: timeout and one tick later, then the watch and the reader.
        #: Counted again from each election (a new leader gives every
        #: session a fresh timeout) and from the resume of a paused leader
        #: (a frozen leader expires nobody).
        self.expiry = self.timeout + self.tick + self.margin
        #: A (re)started nova-compute must read up within this: importing
        #: nova and starting takes 2 to 6 s on the loaded machine, and it
        #: may have to wait out its old node (another expiry).
        self.start = 30.0
        #: After SIGCONT or the heal of a cut, a worker may read down this
        #: long: released just before its expiry, its session can still
        #: expire a tick later; then the client reconnects, learns
        #: "expired", opens a new session and creates its node again.
        self.rejoin = self.expiry + 1.0
        #: After another client deleted a live worker's node, the worker may
        #: read down this long: the deletion fires the worker's watch at
        #: once and a create is one round trip; the driver may retry its
        #: create every sg_retry_interval (1 s here); 1 s for the load.
        self.recreate = 1.0 + 1.0
        #: After any server event (kill, pause, resume, restart, election)
        #: a live worker may read down this long: its session may expire
        #: legitimately (its server was paused: 2/3 of recv_timeout to
        #: notice, a reconnect; a leader lost: syncLimit 1 s to notice, the
        #: election, a reconnect within the fresh timeout), then it rejoins.
        self.server = 1.0 + 1.0 + self.expiry + 1.0
        #: After any server event the reader may answer "unknown" this
        #: long while a quorum is up: as test_zk_ensemble's
        #: UNKNOWN_WINDOW_BOUND (a noticed loss, an election, a reconnect,
        #: maybe a new session and a re-read of the group).
        self.unknown = ensemble_tests.UNKNOWN_WINDOW_BOUND

    def describe(self):
        return ('expiry %.2f s (timeout %.1f + tick %.1f + margin %.2f), '
                'start %.0f s, rejoin %.1f s, re-create %.1f s, after a '
                'server event: down %.1f s, unknown %.1f s' % (
                    self.expiry, self.timeout, self.tick, self.margin,
                    self.start, self.rejoin, self.recreate, self.server,
                    self.unknown))


def plan(seed, duration, hosts, partition_host=None, exclude=()):
    """The episodes of each lane, drawn from ``seed`` alone.

    ``hosts`` are split between the two worker lanes; ``partition_host``
    (or None) is the one worker that can be cut off.  Returns {lane:
    [Episode]}, each lane's episodes planned to start within ``duration``.
    """
    halves = {'workers-a': hosts[:len(hosts) // 2],
              'workers-b': hosts[len(hosts) // 2:]}
    lanes = {}
    for lane in ['servers'] + sorted(halves):
        rng = random.Random('%s/%s' % (seed, lane))
        kinds = SERVER_KINDS if lane == 'servers' else WORKER_KINDS
        # An excluded kind, or a partition where the lane has no worker in
        # a namespace, is drawn all the same and left out: the rest of the
        # schedule stays what the seed says, on every machine.
        possible = [k for k in kinds if k not in exclude and (
            k != 'worker_partition' or partition_host in halves.get(lane,
                                                                    ()))]
        episodes = []
        at = rng.uniform(0.5, 2.0)
        while possible and at < duration:
            kind = rng.choices(kinds, [WEIGHTS[k] for k in kinds])[0]
            if kind in ('server_kill', 'server_pause'):
                target = rng.randrange(3)
            elif kind == 'worker_partition':
                target = partition_host
            elif lane == 'servers':
                target = None  # the leader of the moment
            else:
                target = rng.choice(halves[lane])
            hold = round(rng.uniform(*HOLDS[kind]), 2)
            if kind in possible:
                episodes.append(Episode(lane, round(at, 2), kind, target,
                                        hold))
            at += hold + rng.uniform(*GAPS[lane.split('-')[0]])
        lanes[lane] = episodes
    return lanes


class Truth(object):
    """What the run did to whom, and when (time.monotonic()).

    Events are (time, what, target, detail).  Workers: w_start, w_kill,
    w_term, w_stop, w_cont, w_cut, w_heal, w_died (exited by itself).
    Servers: s_kill, s_pause, s_resume, s_start, s_up (answers again),
    s_serving (every running server serves under one leader; detail
    "election" when the leader is new or the quorum was lost).
    """

    def __init__(self):
        self.events = []
        self.violations = []
        self._lock = threading.Lock()

    def record(self, what, target, detail=''):
        with self._lock:
            now = time.monotonic()
            self.events.append((now, what, target, detail))
        return now

    def violation(self, rule, text):
        with self._lock:
            self.violations.append((time.monotonic(), rule, text))


# -- the checker -------------------------------------------------------------

class Findings(object):
    """The checker's result: violations and the observed figures."""

    def __init__(self):
        self.violations = []    # (time, rule, text)
        self.figures = collections.OrderedDict()

    def fail(self, t, rule, text):
        self.violations.append((t, rule, text))


def _stretches(times):
    """[(first, last)] runs of consecutive sample times (a gap ends one)."""
    runs = []
    for t, is_hit in times:
        if is_hit:
            if runs and runs[-1][2]:
                runs[-1][1] = t
            else:
                runs.append([t, t, True])
        elif runs:
            runs[-1][2] = False
    return [(a, b) for a, b, _open in runs]


def check(events, samples, hosts, bounds, t0):
    """Replay ``events`` next to the reader's ``samples``; a Findings.

    ``samples`` are (time, {host: 'up'|'down'|'unknown'}).  The rules:

    * live-down: a worker alive, unfrozen and connected read down outside
      its start window, its rejoin window, its re-create window (its node
      deleted by another client) and every server event's window;
    * gone-up: a killed, frozen or cut-off worker read up past its expiry
      deadline (bounds.expiry after the fault, counted again from each
      election and each resume of a paused leader within it);
    * unknown: "unknown" while at least two servers ran unpaused, more than
      bounds.unknown after the last server event;
    * never-up: a started worker did not read up within bounds.start.
    """
    found = Findings()
    events = sorted(events)
    rel = lambda t: t - t0  # noqa: E731

    server_events = [t for t, what, _target, _d in events
                     if what.startswith('s_')]
    # What moves an expiry deadline: a new leader gives every session a
    # fresh timeout ('reset'); from the loss of the leader (killed or
    # paused) until the next election or its resume nobody expires
    # ('frozen').
    resets = [t for t, what, _target, detail in events
              if (what == 's_serving' and detail.startswith('election')) or
              (what == 's_resume' and detail.startswith('leader'))]
    leader_lost = [t for t, what, _target, detail in events
                   if what in ('s_kill', 's_pause') and
                   detail.startswith('leader')]
    marks = sorted([(t, 'reset') for t in resets] +
                   [(t, 'frozen') for t in leader_lost])

    # Per host: gone intervals [start, end, cause] and alive excuses.
    gone = dict((h, []) for h in hosts)
    starts = dict((h, []) for h in hosts)
    returns = dict((h, []) for h in hosts)
    deleted = dict((h, []) for h in hosts)
    open_gone = {}
    for t, what, target, _detail in events:
        if target not in gone:
            continue
        if what == 'w_deleted':
            deleted[target].append(t)
        elif what in ('w_kill', 'w_term', 'w_stop', 'w_cut', 'w_died'):
            if target not in open_gone:
                open_gone[target] = [t, None, what]
                gone[target].append(open_gone[target])
        elif what in ('w_start', 'w_cont', 'w_heal'):
            if target in open_gone:
                open_gone.pop(target)[1] = t
            (starts if what == 'w_start' else returns)[target].append(t)
    end_time = samples[-1][0] if samples else t0

    def deadline(start):
        limit = start + bounds.expiry
        before = [kind for t, kind in marks if t <= start]
        if before and before[-1] == 'frozen':
            # Killed while no leader expires anyone (a quorum loss, a
            # paused leader): the clock starts at the next election.
            marks_from = [(start, 'frozen')]
        else:
            marks_from = []
        for t, kind in marks_from + marks:
            if t < start or (t == start and not marks_from):
                continue
            if t > limit:
                break
            if kind == 'frozen':
                later = [r for r in resets if r >= t]
                t = later[0] if later else end_time
            limit = max(limit, t + bounds.expiry)
        return limit

    # Servers up (running, unpaused, answering) over time.
    down_servers = set()
    quorum_at = []  # (time, quorum up?)
    for t, what, target, _detail in events:
        if what in ('s_kill', 's_pause'):
            down_servers.add(target)
        elif what in ('s_up', 's_resume'):
            down_servers.discard(target)
        else:
            continue
        quorum_at.append((t, len(down_servers) <= 1))

    def quorum(t):
        up = True
        for when, value in quorum_at:
            if when > t:
                break
            up = value
        return up

    def last_before(times, t):
        best = None
        for when in times:
            if when > t:
                break
            best = when
        return best

    def first_up(host, start, limit):
        for t, answers in samples:
            if start <= t <= limit and answers.get(host) == 'up':
                return t
        return None

    # never-up and the start excuses.
    start_excuse = dict((h, []) for h in hosts)
    start_took = []
    for host in hosts:
        for s in starts[host]:
            stop = min([g[0] for g in gone[host] if g[0] > s] +
                       [s + bounds.start])
            up = first_up(host, s, stop)
            if up is not None:
                start_took.append(up - s)
                start_excuse[host].append((s, up))
            else:
                start_excuse[host].append((s, stop))
                if stop >= s + bounds.start and end_time >= stop:
                    found.fail(stop, 'never-up', '%s started at %.2fs did '
                               'not read up within %.0fs' % (
                                   host, rel(s), bounds.start))

    def gone_at(host, t):
        for g in gone[host]:
            if g[0] <= t and (g[1] is None or t < g[1]):
                return g
        return None

    def excused_down(host, t):
        for a, b in start_excuse[host]:
            if a <= t <= b:
                return 'start'
        r = last_before(returns[host], t)
        if r is not None and t - r <= bounds.rejoin:
            return 'rejoin'
        d = last_before(deleted[host], t)
        if d is not None and t - d <= bounds.recreate:
            return 'recreate'
        s = last_before(server_events, t)
        if s is not None and t - s <= bounds.server:
            return 'server'
        return None

    live_down = dict((h, []) for h in hosts)
    gone_up = dict((h, []) for h in hosts)
    unknown_hits = []
    excused = collections.Counter()
    for t, answers in samples:
        unknown = False
        for host in hosts:
            answer = answers.get(host)
            g = gone_at(host, t)
            if answer == 'unknown':
                unknown = True
            if g is None and answer == 'down':
                why = excused_down(host, t)
                if why:
                    excused[why] += 1
                live_down[host].append((t, why is None))
            else:
                live_down[host].append((t, False))
            gone_up[host].append((t, g is not None and answer == 'up' and
                                  t > deadline(g[0])))
        late = False
        if unknown and quorum(t):
            s = last_before(server_events, t)
            late = s is None or t - s > bounds.unknown
        unknown_hits.append((t, late))

    for host in hosts:
        for a, b in _stretches(live_down[host]):
            found.fail(a, 'live-down', '%s alive and reachable read down '
                       'from %.2fs to %.2fs (%.2fs), outside every window' %
                       (host, rel(a), rel(b), b - a))
        for a, b in _stretches(gone_up[host]):
            g = gone_at(host, a)
            found.fail(a, 'gone-up', '%s (%s at %.2fs) read up from %.2fs '
                       'to %.2fs, past its deadline %.2fs' % (
                           host, g[2], rel(g[0]), rel(a), rel(b),
                           rel(deadline(g[0]))))
    for a, b in _stretches(unknown_hits):
        s = last_before(server_events, a)
        found.fail(a, 'unknown', 'unknown from %.2fs to %.2fs with a quorum '
                   'up, %s' % (rel(a), rel(b), 'no server event before' if
                               s is None else 'last server event at %.2fs' %
                               rel(s)))

    # Observed figures.
    to_down = []
    survived = 0
    for host in hosts:
        for g in gone[host]:
            end = g[1] if g[1] is not None else end_time
            down = None
            for t, answers in samples:
                if g[0] <= t < end and answers.get(host) == 'down':
                    down = t
                    break
            if down is not None:
                # Measured from the fault, less the time no expiry could
                # happen (the deadline's extension).
                to_down.append(down - g[0] - (deadline(g[0]) - g[0] -
                                              bounds.expiry))
            elif g[2] in ('w_stop', 'w_cut'):
                survived += 1
    rejoin_took = []
    for host in hosts:
        for r in returns[host]:
            was_down = [t for t, answers in samples
                        if r - 0.1 <= t <= r and answers.get(host) == 'down']
            up = first_up(host, r, r + bounds.start) if was_down else None
            # Only where a quorum was up all along: else the wait for the
            # quorum is measured, not the rejoin.
            if up is not None and quorum(r) and not [
                    q for q, value in quorum_at if r <= q <= up and
                    not value]:
                rejoin_took.append(up - r)
    # Each stretch of a live worker read down, by the window that covered
    # its first sample.
    live_down_spans = collections.defaultdict(list)
    for host in hosts:
        spans = _stretches([(t, gone_at(host, t) is None and
                             answers.get(host) == 'down')
                            for t, answers in samples])
        for a, b in spans:
            why = excused_down(host, a) or 'none'
            live_down_spans[why].append(b - a)
    # What the unknown rule compares with its bound: per sample, the time
    # since the last server event.
    unknown_quorum = []
    for t, answers in samples:
        if quorum(t) and 'unknown' in answers.values():
            s = last_before(server_events, t)
            unknown_quorum.append(t - s if s is not None else t - t0)
    gaps = [b[0] - a[0] for a, b in zip(samples, samples[1:])]
    f = found.figures
    f['samples'] = len(samples)
    f['largest poll gap s'] = max(gaps or [0.0])
    f['fault to down s (max, bound %.1f)' % bounds.expiry] = max(
        to_down or [0.0])
    f['faults read down'] = len(to_down)
    f['freezes/cuts healed before down'] = survived
    f['start to up s (max, bound %.0f)' % bounds.start] = max(
        start_took or [0.0])
    # Not bounded as such: a server fault may come between.
    f['return to up s, with a quorum (max)'] = max(rejoin_took or [0.0])
    for why, bound in (('start', bounds.start), ('rejoin', bounds.rejoin),
                       ('recreate', bounds.recreate),
                       ('server', bounds.server), ('none', 0.0)):
        spans = live_down_spans.get(why, [])
        f['live down in a %s window: stretches, longest s (bound %.1f)' % (
            why, bound)] = '%d, %.2f' % (len(spans), max(spans or [0.0]))
    f['live down samples excused'] = ', '.join(
        '%s %d' % kv for kv in sorted(excused.items())) or '0'
    f['unknown with quorum: after last server event s (max, bound %.1f)' %
      bounds.unknown] = max(unknown_quorum or [0.0])
    f['unknown samples'] = sum(1 for _t, a in samples
                               if 'unknown' in a.values())
    return found


def check_file(path):
    """The checker again, on a history FaultRun wrote: (Findings, t0)."""
    with open(path) as f:
        h = json.load(f)
    events = [tuple(e) for e in h['events']]
    samples = [(t, answers) for t, answers in h['samples']]
    return check(events, samples, h['hosts'],
                 Bounds(h['tick_ms'], h['recv_timeout_ms']), h['t0']), h['t0']


# -- the run -----------------------------------------------------------------

class FaultRun(object):
    """One bounded run: set up, run the lanes, check, tear down.

    ``run()`` returns the report (text) and sets ``violations``.  Nothing
    is left running when it returns, even when it raises.
    """

    SETTLE_TIMEOUT = 60.0
    #: Past the planned duration, the longest the lanes may still run (an
    #: episode in flight; each blocking step is bounded by 60 s itself).
    LANE_SLACK = 90.0

    def __init__(self, seed, duration, state_path, workers=WORKERS,
                 exclude=(), tick_ms=TICK_MS,
                 recv_timeout_ms=RECV_TIMEOUT_MS, netns=True, out=None,
                 history=None):
        self.seed = seed
        self.duration = duration
        self.state_path = state_path
        self.hosts = ['fr-%d' % i for i in range(workers)]
        self.exclude = tuple(exclude)
        self.tick_ms = tick_ms
        self.recv_timeout_ms = recv_timeout_ms
        self.bounds = Bounds(tick_ms, recv_timeout_ms)
        self.want_netns = netns
        self.out = out or sys.stderr
        #: A file to write the events and samples to (JSON), so that the
        #: checker can be run again on them (check_file).
        self.history = history
        self.truth = Truth()
        self.violations = []
        self.counts = collections.Counter()
        self.netns = None
        self.netns_note = ''
        self.partition_host = None
        self.ensemble = None
        self.cloud = None
        self.reader = None
        self.poller = None
        self._stop = threading.Event()
        self._leader = None
        self._pids_at_start = {}
        self._fds_at_end = {}
        self._started = {}
        self.t0 = time.monotonic()

    def say(self, text):
        self.out.write(text + '\n')
        self.out.flush()

    # -- set-up and tear-down ----------------------------------------------

    def _setup(self):
        host = '127.0.0.1'
        if 'worker_partition' in self.exclude:
            self.netns_note = 'partition excluded'
        elif not self.want_netns:
            self.netns_note = 'partition NOT RUN: network namespaces off'
        else:
            netns = ensemble_tests.NetNamespace()
            try:
                netns.create()
            except (RuntimeError, OSError) as e:
                self.netns_note = ('partition NOT RUN: no network namespace '
                                   'on this machine (%s)' % e)
            else:
                self.netns = netns
                host = netns.host_address
                self.partition_host = self.hosts[-1]
                self.netns_note = ('partition of %s in namespace %s' % (
                    self.partition_host, netns.name))
        self.ensemble = zkserver.ZooKeeperEnsemble(3, tick_time=self.tick_ms,
                                                   host=host)
        self.ensemble.start()
        self._leader = self.ensemble.leader()
        CONF.set_override('servicegroup_driver', 'zk')
        CONF.set_override('address', self.ensemble.address, 'zookeeper')
        CONF.set_override('recv_timeout', self.recv_timeout_ms, 'zookeeper')
        CONF.set_override('sg_retry_interval', 1, 'zookeeper')
        self.cloud = cloud.Cloud(self.state_path, {
            'DEFAULT': {'servicegroup_driver': '"zk"'},
            'zookeeper': {'address': '"%s"' % self.ensemble.address,
                          'recv_timeout': str(self.recv_timeout_ms),
                          'sg_retry_interval': '1'}})
        self.cloud.setUp()
        # Once-per-process descriptors first (the hub, the C client's log
        # stream of the driver and of evzookeeper): a session opened and
        # closed, so that the baseline counts only what a run could leak.
        warm = zk.ZooKeeperDriver()
        warm.get_all(TOPIC)
        warm.cleanup()
        self._members()
        self.fds_before_reader = _fd_targets()
        self.reader = servicegroup.API()
        for h in self.hosts:
            self._start_worker(h)
        self.poller = ensemble_tests.Poller(self.reader, self.hosts)
        deadline = time.monotonic() + self.bounds.start
        while time.monotonic() < deadline and not self._all_up():
            eventlet.sleep(0.1)
        if not self._all_up():
            raise RuntimeError('workers not all up within %.0fs: %s' % (
                self.bounds.start, self._last_answers()))
        eventlet.sleep(0.5)
        self.fds_with_reader = _fd_targets()
        self._pids_at_start = dict(
            (h, (self.cloud.workers[h].pid,
                 _fd_targets(self.cloud.workers[h].pid))) for h in self.hosts)

    def _teardown(self):
        """Stop everything the run started; safe to call twice."""
        self._stop.set()
        if self.poller is not None:
            self.poller.stop()
        if self.cloud is not None:
            for proc in self.cloud.workers.values():
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGCONT)
            the_cloud, self.cloud = self.cloud, None
            the_cloud.cleanUp()
        if self.reader is not None:
            self.reader = None
            driver = servicegroup.API._driver
            servicegroup.API._driver = None
            if driver is not None:
                driver.cleanup()
        if self.ensemble is not None:
            self.ensemble.cleanup()
        if self.netns is not None:
            self.netns.destroy()

    def _all_up(self):
        answers = self._last_answers()
        return bool(answers) and all(answers.get(h) == 'up'
                                     for h in self.hosts)

    def _last_answers(self):
        samples = self.poller.samples if self.poller else []
        return samples[-1][1] if samples else {}

    def _start_worker(self, host):
        prefix = self.netns.prefix() if (
            self.netns and host == self.partition_host) else ()
        self.cloud.start_worker(host, prefix=prefix)
        self._started[host] = self.truth.record(
            'w_start', host, 'pid %d' % self.cloud.workers[host].pid)

    def _read_up_since(self, host, since):
        return any(t >= since and answers.get(host) == 'up'
                   for t, answers in list(self.poller.samples))

    # -- the lanes ---------------------------------------------------------

    def _sleep(self, seconds):
        """Sleep in a lane; True when the run is being stopped."""
        return self._stop.wait(max(0.0, seconds))

    def _lane(self, name, episodes, t0):
        try:
            for ep in episodes:
                if self._sleep(t0 + ep.at - time.monotonic()):
                    return
                if time.monotonic() > t0 + self.duration:
                    return
                self.counts[ep.kind] += 1
                if name == 'servers':
                    self._server_episode(ep)
                else:
                    self._worker_episode(ep)
        except Exception as e:
            self.truth.violation('engine', 'lane %s stopped: %s: %s' % (
                name, type(e).__name__, e))

    def _serving(self, lost=False):
        """Until every running server serves under one leader."""
        self.ensemble.wait_for_quorum(60)
        leader = self.ensemble.leader()
        new = lost or leader != self._leader
        self._leader = leader
        self.truth.record('s_serving', leader,
                          'election' if new else 'same leader')

    def _watch_election(self, paused, hold):
        """Hold a leader's pause; note when the others elect a new one.

        The checker needs the time: the new leader gives every session a
        fresh timeout.  A pause shorter than syncLimit causes none.
        """
        end = time.monotonic() + hold
        others = [j for j in range(3) if j != paused]
        while time.monotonic() < end:
            if any(self.ensemble.servers[j].mode() == 'leader'
                   for j in others):
                self.truth.record('s_serving', None,
                                  'election (during the pause)')
                self._sleep(end - time.monotonic())
                return
            if self._sleep(0.1):
                return

    def _server_episode(self, ep):
        ens = self.ensemble
        if ep.kind == 'quorum_loss':
            leader = ens.leader()
            victims = [leader, min(i for i in range(3) if i != leader)]
            for i in victims:
                self.truth.record('s_kill', i, '%s, quorum loss' % (
                    'leader' if i == leader else 'follower'))
                ens.kill(i)
            self._sleep(ep.hold)
            for i in victims:
                self.truth.record('s_start', i)
                ens.start_member(i, wait=False)
            self._serving(lost=True)
            for i in victims:
                self.truth.record('s_up', i)
            return
        if ep.kind in ('server_kill', 'leader_kill'):
            i = ens.leader() if ep.kind == 'leader_kill' else ep.target
            role = 'leader' if i == self._leader else 'follower'
            self.truth.record('s_kill', i, role)
            ens.kill(i)
            if role == 'leader':
                self._serving()
            self._sleep(ep.hold)
            self.truth.record('s_start', i)
            ens.start_member(i, wait=True, timeout=60)
            self.truth.record('s_up', i)
            self._serving()
            return
        i = ep.target
        role = 'leader' if i == self._leader else 'follower'
        self.truth.record('s_pause', i, role)
        ens.pause(i)
        if role == 'leader':
            self._watch_election(i, ep.hold)
        else:
            self._sleep(ep.hold)
        ens.resume(i)
        self.truth.record('s_resume', i, role)
        self._serving()

    def _proc(self, host):
        return self.cloud.workers[host]

    def _worker_episode(self, ep):
        host = ep.target
        proc = self._proc(host)
        if proc.poll() is not None:
            # Nothing of the run stopped it: a crash of the worker.
            self.truth.record('w_died', host, 'exit %s' % proc.returncode)
            self.truth.violation('crash', '%s (pid %d) exited by itself '
                                 'with %s' % (host, proc.pid,
                                              proc.returncode))
            self._start_worker(host)
            return
        if ep.kind in ('worker_kill', 'worker_term'):
            started = self._started[host]
            signum = (signal.SIGKILL if ep.kind == 'worker_kill' else
                      signal.SIGTERM)
            self.truth.record('w_kill' if signum == signal.SIGKILL else
                              'w_term', host, 'pid %d' % proc.pid)
            os.kill(proc.pid, signum)
            try:
                rc = proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.truth.violation('term', '%s (pid %d) still running 15 '
                                     's after SIGTERM' % (host, proc.pid))
                proc.kill()
                rc = proc.wait()
            # Before it read up the worker may still be importing nova,
            # with no handler yet: SIGTERM's default action is then right.
            if signum == signal.SIGTERM and rc != 0 and \
                    self._read_up_since(host, started):
                self.truth.violation('term', '%s (pid %d) exited %s on '
                                     'SIGTERM' % (host, proc.pid, rc))
            self._sleep(ep.hold)
            self._start_worker(host)
        elif ep.kind == 'worker_freeze':
            self.truth.record('w_stop', host, 'pid %d' % proc.pid)
            os.kill(proc.pid, signal.SIGSTOP)
            try:
                self._sleep(ep.hold)
            finally:
                os.kill(proc.pid, signal.SIGCONT)
                self.truth.record('w_cont', host)
        elif ep.kind == 'member_delete':
            self._delete_member(host)
        elif ep.kind == 'worker_partition':
            self.truth.record('w_cut', host)
            self.netns.cut()
            try:
                self._sleep(ep.hold)
            finally:
                self.netns.heal()
                self.truth.record('w_heal', host)

    def _delete_member(self, host):
        """Delete ``host``'s node from another session, as an outsider.

        The binding's synchronous calls, in this lane's OS thread: no hub
        (a session on an eventlet hub here would leave that thread's hub
        behind).
        """
        import zookeeper
        handle = zookeeper.init(self.ensemble.address, None,
                                self.recv_timeout_ms)
        try:
            deadline = time.monotonic() + 10
            while zookeeper.state(handle) != zookeeper.CONNECTED_STATE:
                if time.monotonic() > deadline or self._sleep(0.02):
                    self.truth.record('w_delete_missed', host,
                                      'no connection')
                    return
            try:
                zookeeper.delete(handle, '/servicegroups/%s/%s' % (TOPIC,
                                                                   host))
            except zookeeper.NoNodeException:
                self.truth.record('w_delete_missed', host, 'no node')
                return
            except (zookeeper.ConnectionLossException,
                    zookeeper.OperationTimeoutException) as e:
                # The ensemble did not answer (a quorum loss, say): the
                # delete may or may not have been applied, so the checker
                # must allow for it as for one that was.
                self.truth.record('w_deleted', host,
                                  'unconfirmed: %s' % type(e).__name__)
                return
            self.truth.record('w_deleted', host)
        finally:
            zookeeper.close(handle)

    # -- the end checks ----------------------------------------------------

    def _leftovers(self):
        """What the run left behind once every worker stopped: [text]."""
        left = []
        self._fds_at_end = {}
        for host, (pid, fds) in self._pids_at_start.items():
            if self._proc(host).pid == pid:
                end = _fd_targets(pid)
                self._fds_at_end[host] = (fds, end)
                # A worker that lived through every fault must not have
                # gained descriptors (a session's pipes, sockets).
                if len(end) > len(fds):
                    left.append('%s (pid %d) has %d descriptors, %d after '
                                'the start (%s)' % (host, pid, len(end),
                                                    len(fds),
                                                    _diff(fds, end)))
        # Every worker stops as an operator stops it: SIGTERM, it leaves.
        for host in self.hosts:
            proc = self._proc(host)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
        for host in self.hosts:
            proc = self._proc(host)
            try:
                rc = proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                left.append('%s (pid %d) still running 15 s after SIGTERM' %
                            (host, proc.pid))
                proc.kill()
                rc = proc.wait()
            if rc not in (0, -signal.SIGKILL, -signal.SIGTERM):
                left.append('%s (pid %d) exited %s at the end' % (
                    host, proc.pid, rc))
        deadline = time.monotonic() + self.bounds.expiry
        while True:
            # On this thread's hub: a session in another OS thread would
            # leave that thread's hub (an epoll descriptor) behind.
            members, ephemerals = self._members()
            if (not members and not ephemerals) or \
                    time.monotonic() > deadline:
                break
            eventlet.sleep(0.1)
        if members:
            left.append('member nodes left under /servicegroups/%s: %s' % (
                TOPIC, members))
        if ephemerals:
            left.append('the leader counts %d ephemeral nodes' % ephemerals)
        workers = set(p.pid for p in self.cloud.workers.values())
        servers = set(s.pid for s in self.ensemble.servers)
        for pid in _children(os.getpid()):
            if pid not in servers:
                left.append('process %d (%s) left running%s' % (
                    pid, _cmdline(pid),
                    ' (a worker)' if pid in workers else ''))
        fds = _fd_targets()
        if fds != self.fds_with_reader:
            left.append('this process has %d descriptors, %d after the '
                        'start (%s)' % (len(fds), len(self.fds_with_reader),
                                        _diff(self.fds_with_reader, fds)))
        return left

    def _members(self):
        import evzookeeper
        import zookeeper
        session = evzookeeper.ZKSession(self.ensemble.address, timeout=10,
                                        recv_timeout=self.recv_timeout_ms)
        try:
            try:
                members = session.get_children('/servicegroups/' + TOPIC)
            except zookeeper.NoNodeException:
                members = []
        finally:
            session.close()
        leader = self.ensemble.leader()
        stats = self.ensemble.mntr(leader) if leader is not None else {}
        return sorted(members), int(stats.get('zk_ephemerals_count', 0))

    # -- the run -----------------------------------------------------------

    def run(self):
        report = []
        try:
            self._setup()
            lanes = plan(self.seed, self.duration, self.hosts,
                         self.partition_host, self.exclude)
            report.append(self._header(lanes))
            self.say(report[-1])
            t0 = time.monotonic()
            self.t0 = t0
            threads = []
            for name in sorted(lanes):
                thread = threading.Thread(target=self._lane, name=name,
                                          args=(name, lanes[name], t0))
                thread.daemon = True
                thread.start()
                threads.append(thread)
            limit = t0 + self.duration + self.LANE_SLACK
            while any(t.is_alive() for t in threads):
                if time.monotonic() > limit:
                    self.truth.violation('engine', 'lanes still running %.0f '
                                         's after the planned end' %
                                         self.LANE_SLACK)
                    self._stop.set()
                    break
                eventlet.sleep(0.05)
            for thread in threads:
                while thread.is_alive():
                    eventlet.sleep(0.05)
            # Quiet: every worker back, as the checker's windows say.
            settle = time.monotonic() + self.bounds.start
            while time.monotonic() < settle and not self._all_up():
                eventlet.sleep(0.1)
            eventlet.sleep(1.0)
            self.poller.stop()
            if self.history:
                with open(self.history, 'w') as f:
                    json.dump({'seed': self.seed, 'hosts': self.hosts,
                               'tick_ms': self.tick_ms,
                               'recv_timeout_ms': self.recv_timeout_ms,
                               't0': t0, 'events': self.truth.events,
                               'samples': self.poller.samples}, f)
            findings = check(self.truth.events, self.poller.samples,
                             self.hosts, self.bounds, t0)
            leftovers = self._leftovers()
            worker_fds = self._worker_fds()
            self.violations = sorted(findings.violations +
                                     self.truth.violations)
            self.violations += [(time.monotonic(), 'leftover', text)
                                for text in leftovers]
            report.append(self._summary(findings, worker_fds))
        except BaseException as e:
            # A run stopped from outside (the test's time-out) or by an
            # error: what it did so far, so that the stop can be read.
            self.violations = sorted(self.truth.violations)
            self.say('=== fault run seed %s interrupted: %s: %s\n%s\n%s' % (
                self.seed, type(e).__name__, e, self._history_text(),
                self._violations_text()))
            raise
        finally:
            self._teardown()
        after = self._after_teardown()
        if after:
            self.violations += [(time.monotonic(), 'leftover', text)
                                for text in after]
        report.append(self._violations_text())
        text = '\n'.join(report)
        self.say('\n'.join(report[1:]))
        return text

    def _worker_fds(self):
        """{host: (fds at the start, at the end)} of never-restarted ones."""
        return self._fds_at_end

    def _after_teardown(self):
        left = []
        if self.netns is not None:
            names = subprocess.run(['ip', 'netns', 'list'],
                                   stdout=subprocess.PIPE,
                                   universal_newlines=True).stdout
            if re.search(r'^%s\b' % re.escape(self.netns.name), names,
                         re.M):
                left.append('network namespace %s left' % self.netns.name)
        for server in (self.ensemble.servers if self.ensemble else []):
            if server.running:
                left.append('ZooKeeper server %d left running' % server.pid)
        fds = _fd_targets()
        if len(fds) > len(self.fds_before_reader):
            left.append('this process has %d descriptors after the run, %d '
                        'before the reader (%s)' % (
                            len(fds), len(self.fds_before_reader),
                            _diff(self.fds_before_reader, fds)))
        return left

    # -- the report --------------------------------------------------------

    def _header(self, lanes):
        lines = ['=== fault run: seed %s, duration %.0f s, %d workers %s, '
                 'tickTime %d ms, recv_timeout %d ms' % (
                     self.seed, self.duration, len(self.hosts),
                     ','.join(self.hosts), self.tick_ms,
                     self.recv_timeout_ms),
                 'replay: tools/faultrun.py --seed %s --duration %.0f%s' % (
                     self.seed, self.duration, ''.join(
                         ' --exclude %s' % k for k in self.exclude)),
                 'network: %s' % self.netns_note,
                 'bounds: %s' % self.bounds.describe(),
                 'schedule (planned start s, kind, target, hold s):']
        for name in sorted(lanes):
            for ep in lanes[name]:
                lines.append('  %-9s %7.2f %-16s %-6s %.2f' % (
                    name, ep.at, ep.kind,
                    'leader' if ep.target is None else ep.target, ep.hold))
        return '\n'.join(lines)

    def _summary(self, findings, worker_fds):
        lines = [self._history_text()]
        lines.append('faults injected: ' + ', '.join(
            '%s %d' % (k, self.counts[k]) for k in KINDS
            if k not in self.exclude) + ''.join(
                '; %s EXCLUDED' % k for k in self.exclude))
        lines.append('observed:')
        for key, value in findings.figures.items():
            if isinstance(value, float):
                value = '%.2f' % value
            lines.append('  %s: %s' % (key, value))
        for host, (start, end) in sorted(worker_fds.items()):
            lines.append('  %s (never restarted) descriptors: %d after the '
                         'start, %d at the end %s' % (
                             host, len(start), len(end), _diff(start, end)))
        return '\n'.join(lines)

    def _history_text(self):
        lines = ['history (s since the start, what, target, detail):']
        for t, what, target, detail in sorted(self.truth.events):
            if t >= self.t0:
                lines.append('  %7.2f %-9s %-6s %s' % (
                    t - self.t0, what, target, detail))
        return '\n'.join(lines)

    def _violations_text(self):
        t0 = getattr(self, 't0', 0.0)
        lines = ['checker: seed %s, %d violation(s)%s' % (
            self.seed, len(self.violations),
            ':' if self.violations else '')]
        for t, rule, text in self.violations:
            lines.append('  %7.2f [%s] %s' % (t - t0, rule, text))
        return '\n'.join(lines)


_fd_targets = churn_tests.fd_kinds


def _diff(before, after):
    """'+socket -pipe ...': what ``after`` has more or less."""
    more = collections.Counter(after) - collections.Counter(before)
    less = collections.Counter(before) - collections.Counter(after)
    return ' '.join(['+%s x%d' % kv for kv in sorted(more.items())] +
                    ['-%s x%d' % kv for kv in sorted(less.items())])


def _children(pid):
    """Pids of the live (not zombie) children of ``pid``."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except IOError:
            continue
        if int(fields[1]) == pid and fields[0] != 'Z':
            found.append(int(entry))
    return found


def _cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid) as f:
            return f.read().replace('\0', ' ').strip()[:120]
    except IOError:
        return '?'
