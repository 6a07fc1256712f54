"""Which Nova and which of ours the lane's Python imports.

    python tools/nova34/check_imports.py SITE

Prints where each module comes from and fails (exit 1) when one is not
from SITE (the virtualenv's site-packages): a checkout on sys.path would
otherwise test other code than the installed, patched one.
"""

import importlib.metadata
import importlib.util
import os
import sys

MODULES = ('nova', 'nova.servicegroup.drivers.zk', 'zkgroup',
           'zkgroup.service_list', 'zookeeper')


def main(argv):
    site = os.path.realpath(argv[1])
    problems = []
    for name in MODULES:
        spec = importlib.util.find_spec(name)
        path = os.path.realpath(spec.origin) if spec and spec.origin else None
        print('  %-30s %s' % (name, path))
        if path is None or not path.startswith(site + os.sep):
            problems.append('%s is not imported from %s' % (name, site))
    print('  nova %s, zkgroup %s'
          % (importlib.metadata.version('nova'),
             importlib.metadata.version('zkgroup')))
    for problem in problems:
        print('nova34 lane: ' + problem)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
