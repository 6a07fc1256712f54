#!/usr/bin/env python
"""Soak the zk driver: members join and leave for an hour; nothing may grow.

Starts its own ZooKeeper (nova.tests.zkserver, a standalone server on a
free loopback port), then runs the churn of
nova/tests/functional/test_zk_churn.py (the Churn class: new sessions
joining and leaving members, a long-lived session doing the same, duplicate
names refused, a reader checking every join and leave) in this process.

Every --interval seconds the churn pauses until every round in flight has
finished, and a sample is printed: open descriptors, OS threads, RSS,
live greenlets, and in the server's view ephemeral nodes, sessions and
znodes, with the counts of rounds, joins, sessions opened, errors.  The
first sample (after --warmup seconds of churn) is the baseline.

Exits 0 when, at the end, descriptors, threads, greenlets, ephemerals,
sessions and znodes equal the baseline, RSS grew by less than
--max-rss-growth-mb and there was no error; 1 otherwise (what grew is
printed); 2 when ZooKeeper cannot be started.

    tools/soak.py [--duration 3600] [--interval 60] [--workers 4]
                  [--warmup 10] [--max-rss-growth-mb 10]
                  [--tick-time 200] [--recv-timeout 1000] [--monkey-patch]

A round that does not finish within 30 s is a stall: its stack is printed
and the soak fails.
"""

from __future__ import print_function

import sys

if '--monkey-patch' in sys.argv[1:]:
    # As nova's services run: green the standard library before anything
    # else is imported.
    import eventlet
    eventlet.monkey_patch(os=False)

import argparse  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
for path in (os.path.join(ROOT, 'ports', 'evzookeeper'),
             os.path.join(ROOT, 'ports', 'zookeeper'), ROOT):
    if path not in sys.path:
        sys.path.insert(0, path)

try:  # noqa: E402
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg

from nova.tests.functional import test_zk_churn as churn_mod  # noqa: E402
from nova.tests import zkserver  # noqa: E402

CONF = cfg.CONF


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--duration', type=float, default=3600.0,
                        help='seconds of churn after the warm-up')
    parser.add_argument('--interval', type=float, default=60.0,
                        help='seconds between two samples')
    parser.add_argument('--warmup', type=float, default=10.0,
                        help='seconds of churn before the baseline sample')
    parser.add_argument('--workers', type=int, default=4,
                        help='green threads churning at the same time')
    parser.add_argument('--max-rss-growth-mb', type=float, default=10.0,
                        help='RSS growth from the baseline that fails')
    parser.add_argument('--tick-time', type=int, default=200,
                        help='tickTime of the ZooKeeper server (ms)')
    parser.add_argument('--recv-timeout', type=int, default=1000,
                        help='[zookeeper] recv_timeout of the sessions (ms)')
    parser.add_argument('--seed', type=int, default=None)
    parser.add_argument('--monkey-patch', action='store_true',
                        help='run under eventlet.monkey_patch(), as nova\'s '
                             'services do')
    return parser.parse_args(argv)


def line(elapsed, sample):
    return '%8.0fs %s' % (elapsed, churn_mod.format_sample(sample))


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        server = zkserver.ZooKeeperServer(tick_time=args.tick_time)
        server.start()
    except (RuntimeError, zkserver.ZooKeeperNotInstalled) as e:
        print('soak: cannot start ZooKeeper: %s' % e, file=sys.stderr)
        return 2
    churn = None
    try:
        CONF.set_override('servicegroup_driver', 'zk')
        CONF.set_override('address', server.address, group='zookeeper')
        CONF.set_override('recv_timeout', args.recv_timeout,
                          group='zookeeper')
        CONF.set_override('sg_retry_interval', 1, group='zookeeper')
        print('soak: ZooKeeper at %s (tickTime %d ms), recv_timeout %d ms, '
              '%d workers, %.0fs warm-up, %.0fs of churn, a sample every '
              '%.0fs' % (server.address, args.tick_time, args.recv_timeout,
                         args.workers, args.warmup, args.duration,
                         args.interval))
        sys.stdout.flush()
        churn = churn_mod.Churn(server.mntr, workers=args.workers,
                                seed=args.seed)
        started = time.time()
        if not churn.run(args.warmup):
            print('soak: FAILED: the churn stalled in the warm-up:\n%s'
                  % '\n'.join(churn.errors))
            return 1
        baseline = churn.sample()
        print('baseline %s' % churn_mod.format_sample(baseline))
        sys.stdout.flush()
        last = baseline
        begin = time.time()
        while time.time() - begin < args.duration:
            remaining = args.duration - (time.time() - begin)
            ok = churn.run(min(args.interval, remaining))
            last = churn.sample()
            print('%s rss%+dkB' % (line(time.time() - begin, last),
                                   last['rss_kb'] - baseline['rss_kb']))
            sys.stdout.flush()
            if not ok:
                print('soak: the churn stalled; stopping')
                break
        problems = churn_mod.compare(
            baseline, last, rss_bound_kb=int(args.max_rss_growth_mb * 1024))
        print('log records (WARNING and worse) by template:')
        print(churn.log.describe() or '      none')
        for error in churn.errors:
            print('error: %s' % error)
        print('soak: %.0fs, %d sessions, %d joins, RSS %+d kB' % (
            time.time() - started, last['sessions_opened'], last['joins'],
            last['rss_kb'] - baseline['rss_kb']))
        if problems:
            print('soak: FAILED: %s' % '; '.join(problems))
            return 1
        print('soak: OK, nothing grew')
        return 0
    finally:
        if churn is not None:
            churn.close()
        server.cleanup()


if __name__ == '__main__':
    sys.exit(main())
