#!/usr/bin/env python
"""Put the ZooKeeper driver into a Grizzly (2013.1.x) Nova checkout.

    tools/patch_grizzly.py GRIZZLY_DIR            copy the files in
    tools/patch_grizzly.py GRIZZLY_DIR --dry-run  only say what would change
    tools/patch_grizzly.py GRIZZLY_DIR --patch F  write a patch for
                                                  `patch -p1 -d GRIZZLY_DIR`

It prints what it changed and what to install. Python 2.7 or 3.
"""

from __future__ import print_function

import argparse
import difflib
import os
import shutil
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))

# The driver, its tests and the fixture they start ZooKeeper with.
FILES = [
    'nova/servicegroup/drivers/zk.py',
    'nova/tests/servicegroup/test_zk_servicegroup.py',
    'nova/tests/zkserver.py',
]

# What the patched files need from the checkout: (file, text, why).
REQUIRED = [
    ('nova/servicegroup/api.py', 'nova.servicegroup.drivers.zk',
     'the servicegroup API must map "zk" to the driver'),
    ('nova/servicegroup/api.py', 'class ServiceGroupDriver',
     'the driver subclasses ServiceGroupDriver'),
    ('nova/exception.py', 'class ServiceGroupUnavailable',
     'the driver raises ServiceGroupUnavailable'),
    ('nova/utils.py', 'class LoopingCallBase',
     'join() returns a LoopingCallBase'),
    ('nova/openstack/common/importutils.py', 'def try_import',
     'the driver imports its libraries with try_import'),
    ('nova/test.py', 'def flags',
     'the tests use nova.test.TestCase.flags'),
]

INSTALL = """\
Next, on every nova node (Python 2.7, as Grizzly):

  Debian/Ubuntu of Grizzly's time (12.04/14.04):
    apt-get install python-zookeeper zookeeperd     # zookeeperd: servers only
    pip install evzookeeper==0.4.0 'eventlet<0.17'

  Today's Debian/Ubuntu (no python-zookeeper for 2.7 any more):
    apt-get install libzookeeper-mt-dev zookeeper  # zookeeper: servers only
    tools/py27/build_venv.sh VENV    # from this project: zkpython built
                                     # against the 3.8 C headers,
                                     # evzookeeper 0.4.0, eventlet 0.16.1

Then in /etc/nova/nova.conf:

    servicegroup_driver="zk"

    [zookeeper]
    address="192.168.0.1:2181,192.168.0.2:2181,192.168.0.3:2181"

restart nova-compute (and the scheduler/API services) and check with
    nova-manage service list      (State ":-)" up, "XXX" down)
"""


def check_tree(target):
    """Return the list of problems that make ``target`` no Grizzly tree."""
    problems = []
    for path, text, why in REQUIRED:
        full = os.path.join(target, path)
        try:
            with open(full) as f:
                content = f.read()
        except IOError:
            problems.append('%s is missing (%s)' % (path, why))
            continue
        if text not in content:
            problems.append('%s lacks %r (%s)' % (path, text, why))
    return problems


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except IOError:
        return None


def plan(target):
    """[(relative path, 'new'|'changed'|'same')] for the file set."""
    result = []
    for rel in FILES:
        theirs = _read(os.path.join(target, rel))
        ours = _read(os.path.join(ROOT, rel))
        if theirs is None:
            state = 'new'
        elif theirs == ours:
            state = 'same'
        else:
            state = 'changed'
        result.append((rel, state))
    return result


def make_patch(target, changes):
    chunks = []
    for rel, state in changes:
        if state == 'same':
            continue
        theirs = _read(os.path.join(target, rel)) or ''
        ours = _read(os.path.join(ROOT, rel))
        chunks.extend(difflib.unified_diff(
            theirs.splitlines(True), ours.splitlines(True),
            '/dev/null' if state == 'new' else 'a/' + rel, 'b/' + rel))
    return ''.join(chunks)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('target', help='the root of a Grizzly nova checkout')
    parser.add_argument('--dry-run', action='store_true')
    parser.add_argument('--patch', metavar='FILE',
                        help='write a patch instead of copying')
    args = parser.parse_args(argv)
    target = os.path.abspath(args.target)
    if not os.path.isdir(target):
        print('patch_grizzly: %s is not a directory' % target,
              file=sys.stderr)
        return 2
    problems = check_tree(target)
    if problems:
        print('patch_grizzly: %s does not look like a Grizzly nova checkout:'
              % target, file=sys.stderr)
        for problem in problems:
            print('  - %s' % problem, file=sys.stderr)
        return 2
    changes = plan(target)
    if args.patch:
        with open(args.patch, 'w') as f:
            f.write(make_patch(target, changes))
        print('wrote %s; apply with: patch -p1 -d %s < %s'
              % (args.patch, target, args.patch))
    for rel, state in changes:
        verb = {'new': 'add', 'changed': 'replace', 'same': 'keep'}[state]
        if not args.dry_run and not args.patch and state != 'same':
            dest = os.path.join(target, rel)
            if not os.path.isdir(os.path.dirname(dest)):
                os.makedirs(os.path.dirname(dest))
            shutil.copyfile(os.path.join(ROOT, rel), dest)
        print('%-8s %s' % (verb, rel))
    print()
    print(INSTALL)
    return 0


if __name__ == '__main__':
    sys.exit(main())
