#!/usr/bin/env python
"""The main job: three nova-compute workers on the zk driver, one killed.

Starts a local ZooKeeper (production tickTime 2000 ms) and a SQLite
database in a scratch directory, three real ``nova-compute`` processes with
``servicegroup_driver="zk"``, prints ``nova-manage service list``, kills one
worker with SIGKILL, prints the list again with the seconds it took to show
XXX, then stops everything.

    tools/demo.py [--driver zk|db] [--keep DIR]
"""

from __future__ import print_function

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, ROOT)

from nova.tests.functional import cloud  # noqa: E402
from nova.tests import zkserver  # noqa: E402

HOSTS = ['compute-1', 'compute-2', 'compute-3']


def show(title, the_cloud):
    rc, out, err = the_cloud.manage('service', 'list')
    print('\n$ nova-manage service list    # %s' % title)
    sys.stdout.write(out)
    if rc:
        sys.stdout.write(err)
    return rc


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--driver', choices=['zk', 'db'], default='zk')
    parser.add_argument('--keep', metavar='DIR',
                        help='use DIR for state and keep it afterwards')
    args = parser.parse_args()
    state = args.keep or tempfile.mkdtemp(prefix='nova-demo-')
    if not os.path.isdir(state):
        os.makedirs(state)
    server = None
    conf = {'DEFAULT': {'servicegroup_driver': '"%s"' % args.driver}}
    try:
        if args.driver == 'zk':
            server = zkserver.ZooKeeperServer(
                tick_time=2000, base_dir=os.path.join(state, 'zookeeper'))
            server.start()
            print('ZooKeeper %s (tickTime 2000 ms) at %s, state in %s'
                  % (server.mntr().get('zk_version', '?').split(',')[0],
                     server.address, state))
            conf['zookeeper'] = {'address': '"%s"' % server.address,
                                 'recv_timeout': '4000'}
        else:
            print('db driver: report_interval 10 s, service_down_time 60 s')
        the_cloud = cloud.Cloud(state, conf)
        the_cloud.setUp()
        try:
            started = time.time()
            for host in HOSTS:
                the_cloud.start_worker(host)
            for host in HOSTS:
                the_cloud.wait_for_state(host, ':-)', 60)
            print('3 workers up after %.1f s' % (time.time() - started))
            show('all three running', the_cloud)

            victim = HOSTS[1]
            pid = the_cloud.workers[victim].pid
            print('\n$ kill -9 %d    # %s' % (pid, victim))
            the_cloud.signal(victim, signal.SIGKILL)
            took = the_cloud.wait_for_state(victim, 'XXX', 120, interval=0.2)
            show('%s shown XXX %.1f s after SIGKILL' % (victim, took),
                 the_cloud)
            print('\n%s was noticed dead %.1f s after SIGKILL '
                  '(driver %s)' % (victim, took, args.driver))
        finally:
            the_cloud.cleanUp()
    finally:
        if server is not None:
            server.cleanup()
        if not args.keep:
            shutil.rmtree(state, ignore_errors=True)
    print('everything stopped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
