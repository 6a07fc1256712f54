"""Graceful leave propagation: SIGTERM (or leave()) to "gone" for a reader.

run.py measures leaves in the same runs as the crash detection
(``detection.py`` with ``--terms``: the workers that get SIGTERM instead of
SIGKILL), which keeps the production db and mc profiles, a minute per
detection, to one pass.  This module says what a graceful leave is for each
driver (report.py makes its table of it), and runs the leave benchmark
alone:

    python -m benchmarks.leave --profile zk --terms 15 --out leave-zk.json
"""

from __future__ import print_function

import sys

from benchmarks import common
from benchmarks import detection

#: What a worker does on SIGTERM, per driver, and so what a reader waits for.
MEANING = {
    'zk': 'nova.service stops its timers; the zk driver\'s timer.stop() '
          'leaves the group: Membership.leave() deletes the ephemeral node '
          'and the readers\' child watch fires at once',
    'db': 'nova.service stops the heartbeat; the row stays and ages out '
          'after service_down_time, exactly like a crash',
    'mc': 'nova.service stops the heartbeat; the key expires after '
          'service_down_time, exactly like a crash',
    'tooz': 'the worker calls leave_group() (its node is deleted) and '
            'stop(); a reader sees it at its next get_members()',
}


def add_args(parser):
    parser.add_argument('--profile', required=True,
                        choices=sorted(detection.PROFILES))
    parser.add_argument('--terms', type=int, default=15)
    parser.add_argument('--stagger', type=float, default=0.4)
    parser.add_argument('--poll', type=float, default=0.05)
    parser.add_argument('--seed', type=int, default=5)


def run(args):
    args.kills = 0
    return detection.run(args)


if __name__ == '__main__':
    sys.exit(common.job_main(__doc__.split('\n')[0], add_args, run,
                             patch=detection._patch))
