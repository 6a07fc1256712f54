#!/usr/bin/env python
"""Print 'N passed, N failed, N skipped' from nose's xunit report.

Exits non-zero when anything failed, when nothing ran, or when the runner
itself failed (rc given as the second argument).
"""

from __future__ import print_function

import sys
import xml.etree.ElementTree as ET


def main(path, runner_rc):
    try:
        suite = ET.parse(path).getroot()
        total = int(suite.get('tests', 0))
        failed = int(suite.get('failures', 0)) + int(suite.get('errors', 0))
        skipped = int(suite.get('skip', suite.get('skipped', 0)))
    except (IOError, OSError, ET.ParseError):
        total = failed = skipped = 0
        if runner_rc == 0:
            runner_rc = 1
        failed = 1
    passed = total - failed - skipped
    print('%d passed, %d failed, %d skipped' % (passed, failed, skipped))
    if total == 0:
        print('no test was run', file=sys.stderr)
        return 1
    return 1 if failed or runner_rc else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0))
