"""Per-file results of a testr run, from its subunit stream (Python 2.7).

    subunit_report.py STREAM RUNNER_RC MODULE...

Prints, for each test module, its tests passed / failed / skipped, then
"units: N passed, N failed, N skipped".  Fails (exit 1) when a test failed
or was skipped (the lane allows no skip: a missing dependency must show),
when one of the MODULEs (e.g. test_zk_driver) ran no test, or when the
runner failed without a failed test to show for it.
"""

from __future__ import print_function

import collections
import sys
import unittest

import subunit


class Collect(unittest.TestResult):

    def __init__(self):
        super(Collect, self).__init__()
        self.outcomes = []

    def _add(self, test, outcome, detail=''):
        self.outcomes.append((test.id(), outcome, detail))

    def addSuccess(self, test):
        self._add(test, 'passed')

    def addFailure(self, test, err):
        self._add(test, 'failed', self._exc_info_to_string(err, test))

    def addError(self, test, err):
        self._add(test, 'failed', self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        self._add(test, 'skipped', reason)

    def addExpectedFailure(self, test, err):
        self._add(test, 'failed', 'expected failure: not allowed here')

    def addUnexpectedSuccess(self, test):
        self._add(test, 'failed', 'unexpected success')


def main(argv):
    stream, runner_rc, modules = argv[1], int(argv[2]), argv[3:]
    result = Collect()
    with open(stream, 'rb') as f:
        subunit.ProtocolTestCase(f).run(result)
    per_module = collections.OrderedDict((m, collections.Counter())
                                         for m in modules)
    problems = []
    for test_id, outcome, detail in sorted(result.outcomes):
        module = test_id.split('.')
        module = next((part for part in module if part.startswith('test_')),
                      test_id)
        per_module.setdefault(module, collections.Counter())[outcome] += 1
        if outcome != 'passed':
            problems.append('%s %s: %s' % (outcome.upper(), test_id,
                                           detail.strip()[-2000:]))
    total = collections.Counter()
    for module, counts in per_module.items():
        print('units: %-24s %3d passed, %d failed, %d skipped'
              % (module + '.py', counts['passed'], counts['failed'],
                 counts['skipped']))
        total.update(counts)
        if module in modules and not sum(counts.values()):
            problems.append('%s ran no test' % module)
    for problem in problems:
        print(problem)
    failed = total['failed']
    if runner_rc != 0 and not problems:
        problems.append('the runner exited %d' % runner_rc)
    if problems and not failed and not total['skipped']:
        failed = 1
    print('units: %d passed, %d failed, %d skipped'
          % (total['passed'], failed, total['skipped']))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
