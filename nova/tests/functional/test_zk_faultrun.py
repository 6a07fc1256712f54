# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""The randomized fault run (nova/tests/functional/faultrun.py) in CI.

A fixed seed and a bounded duration, so that CI runs the same schedule each
time; tools/faultrun.py runs it with any seed for as long as wanted.  The
report (seed, schedule, history, observed figures, violations) goes to
stderr whether the run passes or not.
"""

import os
import sys

from nova import test
from nova.tests.functional import faultrun

#: The CI run's seed and seconds of faults (NOVA_FAULTRUN_SEED and
#: NOVA_FAULTRUN_SECONDS change them for a local run; NOVA_FAULTRUN_HISTORY
#: names a file for the events and samples, see faultrun.check_file).
#: Seed 307 draws every kind at least 6 times in 120 s (planned).
SEED = int(os.environ.get('NOVA_FAULTRUN_SEED', 307))
DURATION = float(os.environ.get('NOVA_FAULTRUN_SECONDS', 120))
#: Fault kinds left out of the CI schedule, each with its reason.  The
#: excluded episodes are still drawn (and skipped), so the rest of the
#: schedule is the seed's.
EXCLUDED = {
    # Empty.  member_delete was left out while a genuine defect (issue 11,
    # item 1) was not fixed in the committed driver: on 1bf78bb
    # tools/faultrun.py --seed 307 --duration 40 reported "fr-2 alive and
    # reachable read down from 46.73s to 71.94s (25.21s), outside every
    # window" (its node deleted by another client at 38.10 s was never
    # re-created).  6532932 fixed it.
}


class FaultRunTestCase(test.TestCase):

    # Set-up (3 JVMs, 4 workers) takes up to a minute on the loaded
    # machine, the lanes may overrun by LANE_SLACK, the settle and the end
    # checks take up to a minute: a hung run fails here, it never hangs CI.
    TIMEOUT_SECS = int(DURATION + faultrun.FaultRun.LANE_SLACK + 180)

    def test_randomized_faults_with_checker(self):
        run = faultrun.FaultRun(
            SEED, DURATION, self.state_path, exclude=sorted(EXCLUDED),
            history=os.environ.get('NOVA_FAULTRUN_HISTORY'))
        self.addCleanup(run._teardown)
        report = run.run()
        sys.stderr.write('\n[figures] faultrun: seed=%s duration_s=%.0f '
                         'violations=%d\n' % (SEED, DURATION,
                                              len(run.violations)))
        self.assertEqual([], run.violations, report)


class CheckerTestCase(test.TestCase):
    """The checker on made-up histories: it fails what it must fail.

    Times are seconds; the bounds are the run's (expiry 2.87 s, server
    window 5.87 s, unknown 4.0 s, rejoin 3.87 s, start 30 s).
    """

    HOSTS = ['w']

    def _check(self, events, answers, until=20.0):
        """``answers``: [(from_time, answer)], each until the next."""
        samples = []
        t = 0.0
        while t <= until:
            answer = [a for start, a in answers if start <= t][-1]
            samples.append((t, {'w': answer}))
            t = round(t + 0.05, 2)
        return faultrun.check(events, samples, self.HOSTS,
                              faultrun.Bounds(), 0.0)

    def _rules(self, findings):
        return sorted(set(rule for _t, rule, _text in findings.violations))

    def test_a_quiet_history_passes(self):
        found = self._check([(0.0, 'w_start', 'w', '')],
                            [(0.0, 'down'), (2.0, 'up')])
        self.assertEqual([], found.violations)

    def test_a_live_worker_read_down_fails(self):
        found = self._check([(0.0, 'w_start', 'w', '')],
                            [(0.0, 'down'), (2.0, 'up'), (10.0, 'down'),
                             (10.5, 'up')])
        self.assertEqual(['live-down'], self._rules(found))

    def test_down_within_a_server_window_passes(self):
        found = self._check([(0.0, 'w_start', 'w', ''),
                             (9.0, 's_kill', 1, 'follower'),
                             (11.0, 's_up', 1, '')],
                            [(0.0, 'down'), (2.0, 'up'), (10.0, 'down'),
                             (10.5, 'up')])
        self.assertEqual([], found.violations)

    def test_a_killed_worker_read_up_past_expiry_fails(self):
        found = self._check([(0.0, 'w_start', 'w', ''),
                             (5.0, 'w_kill', 'w', '')],
                            [(0.0, 'down'), (2.0, 'up'), (8.0, 'down')])
        self.assertEqual(['gone-up'], self._rules(found))
        found = self._check([(0.0, 'w_start', 'w', ''),
                             (5.0, 'w_kill', 'w', '')],
                            [(0.0, 'down'), (2.0, 'up'), (7.8, 'down')])
        self.assertEqual([], found.violations)

    def test_a_lost_leader_moves_the_expiry_deadline(self):
        # The leader is killed 1 s after the worker; nobody expires until
        # the election at 9 s: the worker may read up until 11.87 s.
        events = [(0.0, 'w_start', 'w', ''), (5.0, 'w_kill', 'w', ''),
                  (6.0, 's_kill', 0, 'leader'),
                  (9.0, 's_serving', 1, 'election')]
        found = self._check(events, [(0.0, 'down'), (2.0, 'up'),
                                     (6.0, 'unknown'), (9.5, 'up'),
                                     (11.8, 'down')])
        self.assertEqual([], found.violations)
        found = self._check(events, [(0.0, 'down'), (2.0, 'up'),
                                     (6.0, 'unknown'), (9.5, 'up'),
                                     (12.2, 'down')])
        self.assertEqual(['gone-up'], self._rules(found))

    def test_unknown_with_a_quorum_fails_after_its_window(self):
        events = [(0.0, 'w_start', 'w', ''), (5.0, 's_kill', 2, 'leader')]
        found = self._check(events, [(0.0, 'down'), (2.0, 'up'),
                                     (5.0, 'unknown'), (8.5, 'up')])
        self.assertEqual([], found.violations)
        found = self._check(events, [(0.0, 'down'), (2.0, 'up'),
                                     (5.0, 'unknown'), (9.5, 'up')])
        self.assertEqual(['unknown'], self._rules(found))

    def test_unknown_without_a_quorum_passes(self):
        events = [(0.0, 'w_start', 'w', ''),
                  (5.0, 's_kill', 2, 'leader, quorum loss'),
                  (5.0, 's_kill', 0, 'follower, quorum loss'),
                  (15.0, 's_serving', 1, 'election'),
                  (15.0, 's_up', 2, ''), (15.0, 's_up', 0, '')]
        found = self._check(events, [(0.0, 'down'), (2.0, 'up'),
                                     (5.0, 'unknown'), (15.5, 'up')])
        self.assertEqual([], found.violations)

    def test_a_deleted_node_must_come_back_within_its_window(self):
        events = [(0.0, 'w_start', 'w', ''), (5.0, 'w_deleted', 'w', '')]
        found = self._check(events, [(0.0, 'down'), (2.0, 'up'),
                                     (5.0, 'down'), (6.5, 'up')])
        self.assertEqual([], found.violations)
        found = self._check(events, [(0.0, 'down'), (2.0, 'up'),
                                     (5.0, 'down')])
        self.assertEqual(['live-down'], self._rules(found))

    def test_a_worker_that_never_starts_fails(self):
        found = self._check([(0.0, 'w_start', 'w', '')], [(0.0, 'down')],
                            until=31.0)
        # And past its start window each sample is a live worker down.
        self.assertEqual(['live-down', 'never-up'], self._rules(found))
