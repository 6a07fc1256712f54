"""Backend load of N idle workers: writes per second on each backend.

N simulated workers (``benchmarks.workerhost``: real nova.service.Service
objects, up to ``--per-process`` per process; for tooz ``benchmarks.peers
host``: one tooz coordinator and ZooKeeper session per worker) join and then
do nothing but what their driver does on its own.  Their starts are spread
over one report_interval, then after a settling time of one report_interval
the counters are read at the start and at the end of a ``--window``:

* database (SQLite or PostgreSQL): heartbeat UPDATEs = delta of
  SUM(report_count) (each db heartbeat adds 1 to its row); on PostgreSQL
  also ``pg_stat_user_tables.n_tup_upd`` of ``services`` and
  ``pg_stat_database.xact_commit``;
* ZooKeeper: writes = zxid delta (transactions; pings and reads take none);
  requests = ``zk_packets_received`` delta (pings and reads too);
* memcached: ``cmd_set`` delta.

Also the CPU seconds per second of the backend server and of the worker
processes, and the workers' RSS.  No reader runs during the window.
"""

from __future__ import print_function

import time

from benchmarks import common

PREDICT = {
    'db': 'N / report_interval UPDATEs/s',
    'mc': 'N / report_interval sets/s',
    'zk': '0 writes/s (pings only)',
    'tooz': '0 writes/s (pings and heartbeat reads only)',
}


def add_args(parser):
    parser.add_argument('--driver', required=True,
                        choices=['db', 'zk', 'mc', 'tooz'])
    parser.add_argument('--db', default='sqlite', choices=['sqlite', 'pg'])
    parser.add_argument('--pg-url', default=None)
    parser.add_argument('--n', type=int, required=True)
    parser.add_argument('--window', type=float, default=60)
    parser.add_argument('--per-process', type=int, default=100)
    parser.add_argument('--report-interval', type=int, default=10)
    parser.add_argument('--service-down-time', type=int, default=60)
    parser.add_argument('--recv-timeout', type=int, default=4000)
    parser.add_argument('--mc-max-conns', type=int, default=4096,
                        help='memcached -c (its default, 1024, is too few '
                             'for 1,000 workers: one connection each)')
    parser.add_argument('--shared-session', action='store_true',
                        help='zk: one session per process, not per worker')


def _counters(backend, database, hosts):
    values = {}
    if backend is not None:
        values['backend'] = backend.counters()
    if database is not None and database is not backend:
        values['db'] = database.counters()
    values['hosts_cpu'] = sum(common.cpu_seconds(p.pid) or 0 for p in hosts)
    values['hosts_rss'] = sum(common.rss(p.pid) or 0 for p in hosts)
    values['time'] = time.time()
    return values


def run(args):
    from benchmarks import backends
    from benchmarks import peers
    from benchmarks import workerhost
    driver = args.driver
    backend = database = None
    hosts = []
    try:
        backend, database = backends.start_servers(
            driver, args.workdir, args.db, args.pg_url, args.mc_max_conns)
        started = time.time()
        if driver == 'tooz':
            url = 'kazoo://%s?timeout=%d' % (backend.address,
                                             args.recv_timeout // 1000)
            hosts = peers.start_hosts(url, args.n, args.workdir,
                                      per_process=args.per_process)
        else:
            conf = backends.nova_conf(
                args.workdir, driver, database.url,
                report_interval=args.report_interval,
                service_down_time=args.service_down_time,
                recv_timeout=args.recv_timeout,
                **backends.address_of(driver, backend))
            backends.db_sync(conf)
            hosts = workerhost.start_hosts(
                conf, args.n, args.workdir, per_process=args.per_process,
                spread=args.report_interval,
                session_per_worker=(driver == 'zk' and
                                    not args.shared_session))
        startup = time.time() - started
        common.log('load', driver, args.db, args.n, 'workers up in %.1fs'
                   % startup)
        time.sleep(args.report_interval + 2)
        before = _counters(backend, database, hosts)
        time.sleep(args.window)
        after = _counters(backend, database, hosts)
        dt = after['time'] - before['time']

        def rate(part, key):
            a = after.get(part, {}).get(key)
            b = before.get(part, {}).get(key)
            if a is None or b is None:
                return None
            return (a - b) / dt

        out = {'driver': driver, 'db': args.db if driver != 'tooz' else None,
               'n': args.n, 'window': dt, 'startup_seconds': startup,
               'report_interval': args.report_interval,
               'processes': len(hosts),
               'per_process': args.per_process,
               'session_per_worker': driver == 'tooz' or (
                   driver == 'zk' and not args.shared_session),
               'predicted': PREDICT[driver],
               'before': before, 'after': after,
               'hosts_cpu_per_s': (after['hosts_cpu'] -
                                   before['hosts_cpu']) / dt,
               'hosts_rss_per_worker': after['hosts_rss'] / float(args.n)}
        if driver in ('db', 'mc'):
            out['predicted_rate'] = args.n / float(args.report_interval)
        else:
            out['predicted_rate'] = 0.0
        if database is not None:
            part = 'backend' if database is backend else 'db'
            out['db_updates_per_s'] = rate(part, 'report_count')
            if args.db == 'pg':
                out['pg_n_tup_upd_per_s'] = rate(part, 'n_tup_upd')
                out['pg_xact_commit_per_s'] = rate(part, 'xact_commit')
        if driver == 'db':
            out['writes_per_s'] = out['db_updates_per_s']
            out['write_unit'] = 'UPDATE'
        elif driver in ('zk', 'tooz'):
            out['writes_per_s'] = rate('backend', 'zxid')
            out['requests_per_s'] = rate('backend', 'packets_received')
            out['connections'] = after['backend']['connections']
            out['write_unit'] = 'zxid (transaction)'
        elif driver == 'mc':
            out['writes_per_s'] = rate('backend', 'cmd_set')
            out['write_unit'] = 'set'
            out['connections'] = after['backend']['connections']
            out['max_connections'] = after['backend']['max_connections']
            out['rejected_connections'] = \
                after['backend']['rejected_connections']
        cpu = rate('backend', 'cpu')
        out['backend_cpu_per_s'] = cpu
        out['backend_rss'] = after.get('backend', {}).get('rss')
        if out['predicted_rate']:
            out['measured_over_predicted'] = (out['writes_per_s'] or 0) / \
                out['predicted_rate']
        out['backend_version'] = backend.version() if backend else None
        return out
    finally:
        common.stop_hosts(hosts, timeout=30)
        common.cleanup(backend, database)


if __name__ == '__main__':
    import sys
    sys.exit(common.job_main(__doc__.split('\n')[0], add_args, run,
                             patch=lambda args: False))
