#!/usr/bin/env python
"""Run the randomized fault run of the zk driver with any seed, for long.

The engine is nova/tests/functional/faultrun.py (CI runs it with a fixed
seed for two minutes: nova/tests/functional/test_zk_faultrun.py).  This
starts its own 3-server ensemble on loopback (or on a veth pair when a
network namespace can be made: that needs root), WORKERS nova-compute
processes and a reader, runs the seeded schedule of server and worker
faults for --duration seconds, checks every reader answer against what
was done, and prints the seed, the schedule, the history, the figures and
the violations.

    tools/faultrun.py [--seed N] [--duration 600] [--workers 4]
                      [--exclude KIND ...] [--no-netns] [--keep]
                      [--history FILE]

Exits 0 without violations, 1 with any (the report says how to replay),
2 when the run could not be set up.  Without --seed a seed is drawn and
printed.  --keep leaves the state directory (worker logs) in place.
"""

from __future__ import print_function

import argparse
import os
import random
import shutil
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
for path in (os.path.join(ROOT, 'ports', 'evzookeeper'),
             os.path.join(ROOT, 'ports', 'zookeeper'), ROOT):
    if path not in sys.path:
        sys.path.insert(0, path)

from nova.tests.functional import faultrun  # noqa: E402


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--seed', type=int, default=None,
                        help='the schedule\'s seed (drawn when not given)')
    parser.add_argument('--duration', type=float, default=600.0,
                        help='seconds in which episodes start')
    parser.add_argument('--workers', type=int, default=faultrun.WORKERS,
                        help='nova-compute processes')
    parser.add_argument('--exclude', action='append', default=[],
                        choices=faultrun.KINDS, help='a fault kind to leave '
                        'out (may be repeated)')
    parser.add_argument('--no-netns', action='store_true',
                        help='no network namespace, so no partition')
    parser.add_argument('--keep', action='store_true',
                        help='keep the state directory (worker logs)')
    parser.add_argument('--history', metavar='FILE',
                        help='write the events and reader samples (JSON) '
                        'there, for faultrun.check_file')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    seed = args.seed if args.seed is not None else random.randrange(10 ** 9)
    state_path = tempfile.mkdtemp(prefix='nova-faultrun-')
    run = faultrun.FaultRun(seed, args.duration, state_path,
                            workers=args.workers, exclude=args.exclude,
                            netns=not args.no_netns, out=sys.stdout,
                            history=args.history)
    try:
        run.run()
    except Exception as e:
        print('faultrun: could not run (seed %s): %s: %s' % (
            seed, type(e).__name__, e), file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print('faultrun: state directory kept: %s' % state_path)
        else:
            shutil.rmtree(state_path, ignore_errors=True)
    return 1 if run.violations else 0


if __name__ == '__main__':
    sys.exit(main())
