"""Crash detection and graceful leave: signal to "down" as a reader sees it.

One run per profile.  Every worker is a real process of its own:
``python -m nova.cmd.compute`` started by ``nova.tests.functional.cloud``
(nova's lifecycle: services row, join, heartbeats, leave on SIGTERM) for the
db, mc and zk drivers, and ``python -m benchmarks.peers worker`` (one tooz
coordinator) for tooz/kazoo.  ``--kills`` workers get SIGKILL (a crash) and
``--terms`` workers SIGTERM (a graceful stop: nova's service stops its
timers, which for the zk driver deletes its node; a tooz worker calls
leave_group), all in one shuffled schedule, one signal every ``--stagger``
seconds (plus jitter), so that the whole profile takes one detection time
plus the schedule, not one detection time per kill.

The reader lives in this process and polls every ``--poll`` seconds (the
signals are sent from the same loop, so both use one clock):

* zk: ``servicegroup.API().service_is_up({'host': h, 'topic': 'compute'})``
  (its own ZooKeeper session, a watched member list);
* db: one ``db.service_get_all`` per poll, then ``service_is_up(row)``;
* mc: ``service_is_up(ref)`` per signalled host (a memcached get each);
* tooz: one ``get_members('compute')`` per poll.

A detection time is the time from the signal to the first poll that saw the
worker down; add up to one poll interval of resolution.  Workers that were
not signalled and still looked down are counted as false downs.
"""

from __future__ import print_function

import os
import random
import signal
import time

from benchmarks import common

PROFILES = {
    'zk': {'driver': 'zk', 'tick_time': 2000, 'recv_timeout': 4000,
           'label': 'zk: recv_timeout 4000 ms, tickTime 2000 ms',
           'expect': 6.0},
    'zk-fast': {'driver': 'zk', 'tick_time': 200, 'recv_timeout': 1000,
                'label': 'zk fast: recv_timeout 1000 ms, tickTime 200 ms',
                'expect': 1.2},
    'db': {'driver': 'db', 'report_interval': 10, 'service_down_time': 60,
           'label': 'db: report_interval 10 s, service_down_time 60 s',
           'expect': 60.0},
    'db-fast': {'driver': 'db', 'report_interval': 1, 'service_down_time': 3,
                'label': 'db fast: report_interval 1 s, service_down_time '
                         '3 s', 'expect': 3.0},
    'mc': {'driver': 'mc', 'report_interval': 10, 'service_down_time': 60,
           'label': 'mc: report_interval 10 s, service_down_time 60 s',
           'expect': 61.0},
    'mc-fast': {'driver': 'mc', 'report_interval': 1, 'service_down_time': 3,
                'label': 'mc fast: report_interval 1 s, service_down_time '
                         '3 s', 'expect': 4.0},
    'tooz': {'driver': 'tooz', 'tick_time': 2000, 'timeout': 4,
             'label': 'tooz/kazoo: timeout=4 s, tickTime 2000 ms',
             'expect': 6.0},
}

ORDER = ['zk', 'zk-fast', 'db', 'db-fast', 'mc', 'mc-fast', 'tooz']

#: What a nova-compute stuck in the zookeeper binding's deadlock logs.
DEADLOCK_SIGN = 'Cannot switch to a different thread'


def add_args(parser):
    parser.add_argument('--profile', required=True, choices=sorted(PROFILES))
    parser.add_argument('--kills', type=int, default=30)
    parser.add_argument('--terms', type=int, default=15)
    parser.add_argument('--stagger', type=float, default=0.4)
    parser.add_argument('--poll', type=float, default=0.05)
    parser.add_argument('--seed', type=int, default=5)


def _patch(args):
    return PROFILES[args.profile]['driver'] != 'tooz'


class _NovaCloud(object):
    """nova-compute processes and an in-process nova reader."""

    def __init__(self, profile, workdir, zk=None, mc=None):
        from benchmarks import backends
        from nova.tests.functional import cloud
        sections = backends.conf_sections(
            profile['driver'], profile.get('report_interval', 10),
            profile.get('service_down_time', 60),
            zk_address=zk and zk.address,
            recv_timeout=profile.get('recv_timeout'),
            mc_address=mc and mc.address)
        self.driver = profile['driver']
        self.log_offsets = {}
        self.cloud = cloud.Cloud(workdir, sections)
        self.cloud.setUp()
        common.load_nova_conf(self.cloud.conf_path)
        from nova import context
        from nova import db
        from nova import servicegroup
        self.db = db
        self.ctxt = context.get_admin_context()
        self.api = servicegroup.API()

    def start(self, host):
        proc = self.cloud.start_worker(host)
        common.CHILDREN.procs.append(proc)
        return proc

    def signal(self, host, signum):
        self.cloud.signal(host, signum)

    def snapshot(self, hosts):
        """A function host -> up (True/False/None for unknown)."""
        from nova import exception
        rows = {}
        if self.driver == 'db':
            rows = dict((r['host'], r)
                        for r in self.db.service_get_all(self.ctxt))
        api = self.api

        def up(host):
            ref = rows.get(host) or {'host': host, 'topic': 'compute'}
            if self.driver == 'db' and host not in rows:
                return False
            try:
                return api.service_is_up(ref)
            except exception.ServiceGroupUnavailable:
                return None
        return up

    def _log(self, host):
        return self.cloud.worker_log(host)[self.log_offsets.get(host, 0):]

    def deadlocked(self, host):
        return DEADLOCK_SIGN in self._log(host)

    def restart(self, host):
        proc = self.cloud.workers.get(host)
        common.kill(proc)
        self.log_offsets[host] = len(self.cloud.worker_log(host))
        self.start(host)

    def why_not_up(self, host):
        log = self._log(host)
        if DEADLOCK_SIGN in log:
            return ('greenlet.error "Cannot switch to a different thread" '
                    'in its log: the zookeeper binding\'s callbacks are '
                    'stuck (cffi type cache lock is green)')
        proc = self.cloud.workers.get(host)
        if proc is not None and proc.poll() is not None:
            return 'exited with status %s' % proc.returncode
        return 'not up after 60 s; log tail: %s' % log[-300:]

    def granted_timeout_ms(self):
        if self.driver != 'zk':
            return None
        try:
            return int(self.api._driver._session_timeout() * 1000)
        except Exception:
            return None

    def cleanup(self):
        self.cloud.cleanUp()


class _ToozCloud(object):
    """tooz worker processes and a tooz reader."""

    def __init__(self, profile, workdir, zk):
        from benchmarks import peers
        self.workdir = workdir
        self.url = 'kazoo://%s?timeout=%d' % (zk.address, profile['timeout'])
        self.reader = peers.Reader(self.url)
        self.procs = {}

    def start(self, host):
        log_path = os.path.join(self.workdir, 'worker-%s.log' % host)
        proc = common.CHILDREN.popen(
            common.module_cmd('benchmarks.peers', 'worker', '--url',
                              self.url, '--member', host),
            log_path=log_path)
        self.procs[host] = proc
        return proc

    def signal(self, host, signum):
        os.kill(self.procs[host].pid, signum)

    def snapshot(self, hosts):
        members = self.reader.members()
        return lambda host: host in members

    def deadlocked(self, host):
        return False

    def why_not_up(self, host):
        proc = self.procs.get(host)
        if proc is not None and proc.poll() is not None:
            return 'exited with status %s' % proc.returncode
        return 'not up after 60 s'

    def granted_timeout_ms(self):
        try:
            return int(self.reader.coord._coord._session_timeout)
        except Exception:
            return None

    def cleanup(self):
        self.reader.close()
        for proc in self.procs.values():
            common.kill(proc)


def run(args):
    from benchmarks import backends
    profile = PROFILES[args.profile]
    driver = profile['driver']
    zk = mc = None
    if driver in ('zk', 'tooz'):
        zk = backends.ZooKeeper(profile['tick_time']).start()
    elif driver == 'mc':
        mc = backends.Memcached().start()
    world = None
    try:
        if driver == 'tooz':
            world = _ToozCloud(profile, args.workdir, zk)
        else:
            world = _NovaCloud(profile, args.workdir, zk=zk, mc=mc)
        hosts = (['crash-%02d' % i for i in range(args.kills)] +
                 ['leave-%02d' % i for i in range(args.terms)])
        t0 = time.monotonic()
        for host in hosts:
            world.start(host)
        # All up as the reader sees them.  A nova-compute whose log shows
        # the eventlet/cffi deadlock of the zookeeper binding (see
        # common.fix_cffi_lock) never joins: it is restarted, as an operator
        # would, at most three times, and counted.  A worker that never
        # comes up is left out of the schedule and reported.
        deadline = time.monotonic() + 60
        never_up = {}
        restarts = {}
        while True:
            up = world.snapshot(hosts)
            missing = [h for h in hosts if not up(h)]
            if not missing:
                break
            for host in missing:
                if world.deadlocked(host) and restarts.get(host, 0) < 3:
                    restarts[host] = restarts.get(host, 0) + 1
                    common.log(args.profile, 'restarting %s (deadlocked '
                               'start)' % host)
                    world.restart(host)
                    deadline = max(deadline, time.monotonic() + 45)
            if time.monotonic() > deadline:
                for host in missing:
                    never_up[host] = world.why_not_up(host)
                hosts = [h for h in hosts if h not in never_up]
                common.log(args.profile, 'never up: %s' % never_up)
                break
            time.sleep(0.2)
        startup = time.monotonic() - t0
        common.log(args.profile,
                   '%d workers up in %.1fs' % (len(hosts), startup))
        time.sleep(min(profile.get('report_interval', 1), 10) + 1)

        rng = random.Random(args.seed)
        kinds = ([(h, signal.SIGKILL, 'kill') for h in hosts
                  if h.startswith('crash-')] +
                 [(h, signal.SIGTERM, 'term') for h in hosts
                  if h.startswith('leave-')])
        rng.shuffle(kinds)
        start = time.monotonic() + 0.5
        schedule = [(start + i * args.stagger +
                     rng.uniform(0, args.stagger / 2), h, s, k)
                    for i, (h, s, k) in enumerate(kinds)]
        give_up = schedule[-1][0] + 3 * profile['expect'] + 20
        sent = {}
        results = {'kill': {}, 'term': {}}
        false_down = set()
        unknown_polls = 0
        polls = 0
        while schedule or len(sent) > sum(len(v) for v in results.values()):
            now = time.monotonic()
            while schedule and schedule[0][0] <= now:
                _t, host, signum, kind = schedule.pop(0)
                world.signal(host, signum)
                sent[host] = (time.monotonic(), kind)
            up = world.snapshot(hosts)
            seen = time.monotonic()
            polls += 1
            for host in hosts:
                state = up(host)
                if state is None:
                    unknown_polls += 1
                    continue
                if host in sent:
                    t_sig, kind = sent[host]
                    if not state and host not in results[kind]:
                        results[kind][host] = seen - t_sig
                elif not state:
                    false_down.add(host)
            if now > give_up:
                break
            time.sleep(max(0.0, args.poll - (time.monotonic() - now)))
        missed = dict((h, k) for h, (t, k) in sent.items()
                      if h not in results[k])
        out = {
            'profile': args.profile, 'label': profile['label'],
            'driver': driver, 'settings': profile,
            'workers': len(hosts), 'kills': args.kills, 'terms': args.terms,
            'poll_interval': args.poll, 'stagger': args.stagger,
            'startup_seconds': startup,
            'granted_timeout_ms': world.granted_timeout_ms(),
            'kill': sorted(results['kill'].values()),
            'term': sorted(results['term'].values()),
            'kill_summary': common.summary(results['kill'].values()),
            'term_summary': common.summary(results['term'].values()),
            'never_down': missed, 'false_down': sorted(false_down),
            'never_up': never_up,
            'deadlock_restarts': restarts,
            'starts': len(hosts) + len(never_up) + sum(restarts.values()),
            'unknown_answers': unknown_polls, 'polls': polls,
            'worker_kind': ('python -m benchmarks.peers worker (one tooz '
                            'coordinator per process)' if driver == 'tooz'
                            else 'python -m nova.cmd.compute (one process '
                            'per worker, via nova/tests/functional/'
                            'cloud.py)'),
        }
        if zk is not None:
            out['zookeeper_version'] = zk.version()
        if mc is not None:
            out['memcached_version'] = mc.version()
        return out
    finally:
        if world is not None:
            world.cleanup()
        for server in (zk, mc):
            if server is not None:
                server.cleanup()


if __name__ == '__main__':
    import sys
    sys.exit(common.job_main(__doc__.split('\n')[0], add_args, run,
                             patch=_patch))
