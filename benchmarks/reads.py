"""Read cost: one ``service_is_up`` call, and ``nova-manage service list``.

N services are up (simulated workers in ``benchmarks.workerhost`` processes;
for zk they share one ZooKeeper session per process, which does not change
what a reader pays).  The reader is this process, configured from the same
nova.conf:

* ``service_is_up(row)`` is timed call by call over ``--rounds`` passes over
  the N rows (read once from the database beforehand).  For db that is
  date arithmetic on the row; for mc one memcached get; for zk a lookup in
  the watched set of live members; for tooz ``member in
  get_members(group)``, one ZooKeeper round trip.
* A "scheduler pass": read all rows (``db.service_get_all``) and ask
  ``service_is_up`` of each, as nova-manage and the scheduler do (tooz: one
  ``get_members``).
* ``nova-manage service list``: wall time of the whole command (a new Python
  process: imports, config, one SELECT, N service_is_up, printing), once
  without the zk driver's members cache (``manage_first``) and then
  ``--manage-runs`` times with it, next to
  ``nova-manage service list --host no-such-host`` (the same start-up and
  query, no row to ask the driver about: for zk not even a session).

With ``--n 10000`` the db workers beat every ``--report-interval`` 100 s
(100 writes/s, as 1,000 workers at the default 10 s; the cost of a read
does not depend on it), and the tooz members are ``--direct-members``:
ephemeral nodes in tooz's layout (``/tooz/compute/<member>``) held by one
kazoo session, since 10,000 coordinators (a session and threads each) do
not fit on one machine; the reader is tooz's own ``get_members``.
``--max-calls`` caps the timed calls (tooz: one round trip each).
"""

from __future__ import print_function

import os
import shutil
import time

from benchmarks import common


def add_args(parser):
    parser.add_argument('--driver', required=True,
                        choices=['db', 'zk', 'mc', 'tooz'])
    parser.add_argument('--db', default='sqlite', choices=['sqlite', 'pg'])
    parser.add_argument('--pg-url', default=None)
    parser.add_argument('--n', type=int, default=1000)
    parser.add_argument('--rounds', type=int, default=10)
    parser.add_argument('--passes', type=int, default=20)
    parser.add_argument('--manage-runs', type=int, default=5)
    parser.add_argument('--per-process', type=int, default=500)
    parser.add_argument('--report-interval', type=int, default=10)
    parser.add_argument('--service-down-time', type=int, default=60)
    parser.add_argument('--direct-members', action='store_true')
    parser.add_argument('--max-calls', type=int, default=None)


def _time_calls(refs, is_up, rounds, max_calls=None):
    latencies = []
    ups = 0
    clock = time.perf_counter
    calls = list(refs) * rounds
    if max_calls:
        calls = calls[:max_calls]
    for ref in calls:
        t = clock()
        up = is_up(ref)
        latencies.append(clock() - t)
        ups += bool(up)
    return latencies, ups


def _time_passes(one_pass, passes):
    """The seconds of each of ``passes`` calls, and the last one's result."""
    seconds = []
    for _i in range(passes):
        t = time.perf_counter()
        result = one_pass()
        seconds.append(time.perf_counter() - t)
    return seconds, result


def _hold_tooz_members(zk, names):
    """Ephemeral member nodes in tooz's layout, held by one kazoo session
    (returned: closing it removes them)."""
    from kazoo import client
    holder = client.KazooClient(hosts=zk.address, timeout=30)
    holder.start(timeout=30)
    holder.ensure_path('/tooz/compute')
    pending = [holder.create_async('/tooz/compute/' + name, b'',
                                   ephemeral=True) for name in names]
    for result in pending:
        result.get(timeout=60)
    return holder


def _run_tooz(args):
    from benchmarks import backends
    from benchmarks import peers
    from benchmarks import workerhost
    zk = backends.ZooKeeper(2000).start()
    hosts = []
    reader = None
    holder = None
    try:
        url = 'kazoo://%s?timeout=4' % zk.address
        if args.direct_members:
            holder = _hold_tooz_members(
                zk, [workerhost.host_name('sim-', i) for i in range(args.n)])
        else:
            # At most 100 coordinators per process: with 250, kazoo's
            # Python connection threads fell behind (GIL) and sessions
            # expired.
            hosts = peers.start_hosts(url, args.n, args.workdir,
                                      per_process=100)
        reader = peers.Reader(url)
        members = sorted(reader.members() - {'bench-reader'})
        if len(members) != args.n:
            raise RuntimeError('%d members, expected %d' % (len(members),
                                                            args.n))
        reader.is_up(members[0])
        lat, ups = _time_calls(members, reader.is_up, args.rounds,
                               args.max_calls)
        passes, got = _time_passes(reader.members, args.passes)
        return {'driver': 'tooz', 'db': None, 'n': args.n,
                'calls': len(lat), 'up_answers': ups,
                'is_up': common.summary(lat),
                'is_up_what': 'member in get_members() (a ZooKeeper '
                              'get_children round trip)',
                'members': 'ephemeral nodes of one kazoo session'
                           if args.direct_members else
                           'one tooz coordinator each',
                'pass': common.summary(passes),
                'pass_what': 'get_members() of %d members' % len(got),
                'manage': None,
                'backend_version': zk.version()}
    finally:
        if reader is not None:
            reader.close()
        if holder is not None:
            holder.stop()
            holder.close()
        common.stop_hosts(hosts, timeout=30)
        zk.cleanup()


def run(args):
    if args.driver == 'tooz':
        return _run_tooz(args)
    from benchmarks import backends
    from benchmarks import workerhost
    driver = args.driver
    hosts = []
    # memcached -c 4096 (the default): a connection per simulated worker
    backend, database = backends.start_servers(driver, args.workdir, args.db,
                                               args.pg_url)
    try:
        conf = backends.nova_conf(
            args.workdir, driver, database.url,
            report_interval=args.report_interval,
            service_down_time=args.service_down_time,
            **backends.address_of(driver, backend))
        backends.db_sync(conf)
        hosts = workerhost.start_hosts(conf, args.n, args.workdir,
                                       per_process=args.per_process)
        common.load_nova_conf(conf)
        from nova import context
        from nova import db
        from nova import servicegroup
        ctxt = context.get_admin_context()
        api = servicegroup.API()
        refs = db.service_get_all(ctxt)
        if len(refs) != args.n:
            raise RuntimeError('%d rows, expected %d' % (len(refs), args.n))
        # Warm up: the zk reader's session and watched list, connections.
        deadline = time.time() + 60
        while sum(bool(api.service_is_up(r)) for r in refs) < args.n:
            if time.time() > deadline:
                raise RuntimeError('not all %d services up' % args.n)
            time.sleep(0.5)
        lat, ups = _time_calls(refs, api.service_is_up, args.rounds,
                               args.max_calls)

        def scheduler_pass():
            for row in db.service_get_all(ctxt):
                api.service_is_up(row)
        passes, _none = _time_passes(scheduler_pass, args.passes)
        # The first command after the zk driver's members cache is gone
        # reads every member (N + 1 requests); the next ones take the
        # cached list while nobody came or went.  db has no cache: its
        # first run measures only a first start-up.
        shutil.rmtree(os.path.join(args.workdir, 'zk-members'),
                      ignore_errors=True)
        rc, out, err, first = backends.manage(conf, 'service', 'list')
        if rc != 0:
            raise RuntimeError('service list failed: %s' % err[-500:])
        manage = []
        baseline = []
        listed = None
        for _i in range(args.manage_runs):
            rc, out, err, seconds = backends.manage(conf, 'service', 'list')
            if rc != 0:
                raise RuntimeError('service list failed: %s' % err[-500:])
            manage.append(seconds)
            listed = (sum(1 for line in out.splitlines() if ':-)' in line),
                      sum(1 for line in out.splitlines() if 'XXX' in line))
            rc, out, err, seconds = backends.manage(
                conf, 'service', 'list', '--host', 'no-such-host')
            baseline.append(seconds)
        what = {'db': 'date arithmetic on the row (no I/O)',
                'mc': 'one memcached get',
                'zk': 'lookup in the watched set of live members'}
        return {'driver': driver, 'db': args.db, 'n': args.n,
                'calls': len(lat), 'up_answers': ups,
                'is_up': common.summary(lat), 'is_up_what': what[driver],
                'pass': common.summary(passes),
                'pass_what': 'service_get_all + service_is_up of %d rows'
                             % args.n,
                'manage_first': first,
                'manage': common.summary(manage),
                'manage_baseline': common.summary(baseline),
                'manage_listed_up_down': listed,
                'report_interval': args.report_interval,
                'backend_version': backend.version(),
                'db_version': database.version()}
    finally:
        common.stop_hosts(hosts, timeout=30)
        common.cleanup(backend, database)


if __name__ == '__main__':
    import sys
    sys.exit(common.job_main(__doc__.split('\n')[0], add_args, run,
                             patch=lambda args: args.driver != 'tooz'))
