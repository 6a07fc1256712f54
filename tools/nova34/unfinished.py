"""The tests a subunit v2 stream started and never finished.

    python tools/nova34/unfinished.py STREAM

Prints "HUNG <test id>" for each: the run was stopped (the lane's step
timeout) while they ran.
"""

import sys

import subunit
import testtools

FINAL = ('success', 'fail', 'skip', 'xfail', 'uxsuccess')


class Unfinished(testtools.StreamResult):

    def __init__(self):
        super().__init__()
        self.started = []
        self.finished = set()

    def status(self, test_id=None, test_status=None, **kwargs):
        if test_id is None:
            return
        if test_status == 'inprogress':
            self.started.append(test_id)
        elif test_status in FINAL:
            self.finished.add(test_id)


def main(argv):
    result = Unfinished()
    with open(argv[1], 'rb') as f:
        subunit.ByteStreamToStreamResult(f).run(result)
    for test_id in result.started:
        if test_id not in result.finished:
            print('HUNG %s' % test_id)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
