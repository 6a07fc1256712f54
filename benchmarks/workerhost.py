"""Many simulated nova-compute workers in one process.

Each simulated worker is a real ``nova.service.Service`` (binary
nova-compute, topic compute, its own host name): ``start()`` finds or
creates its row in the services table and joins the group through the
servicegroup API, exactly as ``python -m nova.cmd.compute`` does; the
heartbeats (db, mc) are the drivers' own looping calls, green threads of
this process.  What the workers of one process share:

* the process, its eventlet hub and its SQLAlchemy engine (connection pool);
* for the zk driver, by default also the driver and so ONE ZooKeeper session
  (``--session-per-worker`` gives every worker its own ZooKeeperDriver and
  so its own session, as separate nova-compute processes would have);
* for the mc driver, the memcached client.

Starts are spread evenly over ``--spread`` seconds (real workers do not
start in the same millisecond; the db heartbeats then do not come in one
burst).  Protocol on stdout: ``READY <n> <seconds>`` once every worker has
started.  SIGTERM stops every worker (the zk driver leaves the group; db
and mc just stop beating) and the process prints ``STOPPED`` and exits.

    python -m benchmarks.workerhost --config-file nova.conf --prefix c- \
        --first 0 --count 100 [--spread 10] [--session-per-worker]
"""

from __future__ import print_function

import argparse
import sys
import time

from benchmarks import common


class PrivateAPI(object):
    """The servicegroup API of one simulated worker, on a driver of its
    own (nova's API keeps one driver per process)."""

    def __init__(self, driver):
        self._driver = driver

    def check_member(self, member_id, group_id):
        return self._driver.check_member(member_id, group_id)

    def join(self, member_id, group_id, service=None):
        return self._driver.join(member_id, group_id, service)

    def leave(self, member_id, group_id):
        return self._driver.leave(member_id, group_id)

    def service_is_up(self, member):
        return self._driver.is_up(member)


def host_name(prefix, index):
    return '%s%05d' % (prefix, index)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config-file', required=True)
    parser.add_argument('--prefix', default='sim-')
    parser.add_argument('--first', type=int, default=0)
    parser.add_argument('--count', type=int, required=True)
    parser.add_argument('--spread', type=float, default=0.0)
    parser.add_argument('--session-per-worker', action='store_true')
    parser.add_argument('--log-file', default=None)
    args = parser.parse_args(argv)

    common.monkey_patch()
    import eventlet
    from nova import service
    from nova.openstack.common import log as logging

    extra = ['--log-file', args.log_file] if args.log_file else []
    common.load_nova_conf(args.config_file, extra)
    logging.setup('nova')

    services = []
    for i in range(args.count):
        svc = service.Service.create(
            host=host_name(args.prefix, args.first + i),
            binary='nova-compute', topic='compute')
        if args.session_per_worker:
            from nova.servicegroup.drivers import zk
            svc.servicegroup_api = PrivateAPI(zk.ZooKeeperDriver())
        services.append(svc)

    started = time.time()
    failures = []

    def start_one(svc, delay):
        eventlet.sleep(delay)
        try:
            svc.start()
        except Exception as e:
            failures.append('%s: %s' % (svc.host, e))

    # The first worker starts alone: a driver makes its connection (the zk
    # driver its ZooKeeper session) on first use, and green threads that
    # use a new driver at once would each make one.
    pool = eventlet.GreenPool(200)
    for i, svc in enumerate(services):
        if i == 0:
            start_one(svc, 0)
            continue
        pool.spawn(start_one, svc, args.spread * i / max(args.count, 1))
    pool.waitall()
    if failures:
        print('FAILED %d %s' % (len(failures), failures[:3]))
        sys.stdout.flush()
        return 1
    print('READY %d %.3f' % (len(services), time.time() - started))
    sys.stdout.flush()

    common.wait_for_term(0.1, eventlet.sleep)
    pool = eventlet.GreenPool(200)
    for svc in services:
        pool.spawn(svc.stop)
    pool.waitall()
    eventlet.sleep(0.2)
    print('STOPPED')
    sys.stdout.flush()
    return 0


def start_hosts(conf_path, n, workdir, prefix='sim-', per_process=100,
                spread=0.0, session_per_worker=False, timeout=600,
                tag='host'):
    """Start ceil(n / per_process) worker hosts; wait until all are READY.

    Returns the list of Popen objects (stdout piped).
    """
    def argv(first, count, log_path):
        return common.module_cmd(
            'benchmarks.workerhost', '--config-file', conf_path, '--prefix',
            prefix, '--first', first, '--count', count, '--spread', spread,
            '--log-file', log_path,
            *(['--session-per-worker'] if session_per_worker else []))
    return common.start_hosts(argv, n, workdir, per_process, tag,
                              timeout=timeout, err_suffix='.err')


if __name__ == '__main__':
    sys.exit(main())
