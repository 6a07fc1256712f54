"""Scale: N members in one group on one ZooKeeper, and jute.maxbuffer.

Members are joined with the zk driver itself (``ZooKeeperDriver.join(host,
'compute')``, what nova-compute's service start does) in host processes of
``--per-process`` members each:

* ``--mode session`` (default): every member has a ZooKeeperDriver of its
  own, so its own ZooKeeper session (a C client handle with its two
  threads, one socket, one wake-up pipe), as separate nova-compute
  processes would;
* ``--mode shared``: the members of a process share one driver and so one
  session (the cost of a member alone).

The host processes are started and have imported everything before the
clock starts; then all are told to join at once.  Join throughput is N over
the time until a reader (``servicegroup.API().get_all('compute')`` in this
process, on its own session) sees all N.  Memory per member is the RSS
growth of the host processes from before the join to after it, over N (and
the same for the ZooKeeper server's JVM).  Then the members of ``--leave``
of them (whole processes) leave at once (``driver.leave``: their nodes are
deleted), and the time until the reader's view has N - leave members is
measured; then as many again are SIGKILLed (their sessions expire).

``--jute`` instead measures the limit of a reply to get_children: see
``jute()``.
"""

from __future__ import print_function

import argparse
import os
import subprocess
import sys
import time

from benchmarks import common

# ZooKeeper's default jute.maxbuffer (0xfffff bytes), which the Java client
# also uses as the largest reply it accepts.
JUTE_MAXBUFFER = 0xfffff
# A reply to getChildren: ReplyHeader (xid 4 + zxid 8 + err 4 bytes), the
# vector's length (4), and per child a 4-byte length and the name.
REPLY_OVERHEAD = 16 + 4
PER_CHILD_OVERHEAD = 4


def max_children(name_length, maxbuffer=JUTE_MAXBUFFER):
    """The most children of ``name_length``-byte names in one reply that
    the Java client accepts (it refuses a reply of maxbuffer bytes or
    more)."""
    return (maxbuffer - 1 - REPLY_OVERHEAD) // (PER_CHILD_OVERHEAD +
                                                name_length)


# -- the host process ---------------------------------------------------------

def _stdin_lines():
    """Lines of stdin, read without blocking the hub."""
    from eventlet import hubs
    buf = b''
    while True:
        while b'\n' in buf:
            line, buf = buf.split(b'\n', 1)
            yield line.decode().strip()
        hubs.trampoline(0, read=True)
        data = os.read(0, 4096)
        if not data:
            return
        buf += data


def host_main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('--config-file', required=True)
    parser.add_argument('--prefix', default='compute-')
    parser.add_argument('--first', type=int, default=0)
    parser.add_argument('--count', type=int, required=True)
    parser.add_argument('--mode', choices=['session', 'shared'],
                        default='session')
    parser.add_argument('--concurrency', type=int, default=10)
    parser.add_argument('--nice', type=int, default=10)
    args = parser.parse_args(argv)
    # The simulated workers yield the CPU to the ZooKeeper server and to the
    # reader, which in production run on machines of their own.
    os.nice(args.nice)
    common.monkey_patch()
    import eventlet
    common.load_nova_conf(args.config_file)
    from nova.servicegroup.drivers import zk
    names = ['%s%05d' % (args.prefix, args.first + i)
             for i in range(args.count)]
    shared = zk.ZooKeeperDriver() if args.mode == 'shared' else None
    drivers = {}

    def out(*parts):
        print(*parts)
        sys.stdout.flush()

    out('LOADED', common.rss(os.getpid()))
    for command in _stdin_lines():
        if command == 'join':
            failures = []
            t0 = time.monotonic()

            def join(name):
                driver = shared or zk.ZooKeeperDriver()
                drivers[name] = driver
                try:
                    driver.join(name, 'compute')
                except Exception as e:
                    failures.append('%s: %s' % (name, e))
            pool = eventlet.GreenPool(args.concurrency)
            rest = names
            if shared is not None:
                # The driver makes its session on first use, and several
                # green threads using a new driver at once each make one
                # (the driver keeps the last): join one member first.
                join(names[0])
                rest = names[1:]
            for name in rest:
                pool.spawn(join, name)
            pool.waitall()
            out('JOINED', t0, time.monotonic(), len(failures),
                failures[:2] or '')
        elif command == 'leave':
            t0 = time.monotonic()
            pool = eventlet.GreenPool(1000)
            for name, driver in drivers.items():
                pool.spawn(driver.leave, name, 'compute')
            pool.waitall()
            out('LEFT', t0, time.monotonic())
        elif command == 'rss':
            out('RSS', common.rss(os.getpid()))
        elif command == 'exit':
            break
    return 0


# -- the orchestrator ---------------------------------------------------------

def add_args(parser):
    parser.add_argument('--n', type=int, default=10000)
    parser.add_argument('--leave', type=int, default=1000)
    parser.add_argument('--per-process', type=int, default=500)
    parser.add_argument('--mode', choices=['session', 'shared'],
                        default='session')
    parser.add_argument('--concurrency', type=int, default=10,
                        help='joins in flight per host process')
    parser.add_argument('--recv-timeout', type=int, default=4000)
    parser.add_argument('--tick-time', type=int, default=2000)
    parser.add_argument('--idle-window', type=float, default=10)
    parser.add_argument('--zk-heap', default='1g',
                        help='-Xms/-Xmx of the ZooKeeper server')
    parser.add_argument('--jute', action='store_true')
    parser.add_argument('--name-length', type=int, default=240)


class _Reader(object):
    def __init__(self, conf):
        common.load_nova_conf(conf)
        from nova import servicegroup
        self.api = servicegroup.API()
        self.timeline = []
        self.t_origin = time.monotonic()

    def count(self):
        try:
            n = len(self.api.get_all('compute'))
        except Exception:
            n = None
        self.timeline.append((round(time.monotonic() - self.t_origin, 3), n))
        return n

    def wait_for(self, target, timeout, interval):
        deadline = time.monotonic() + timeout
        while True:
            n = self.count()
            if n == target:
                return time.monotonic()
            if time.monotonic() > deadline:
                raise RuntimeError('reader saw %s members, not %d, after '
                                   '%.0fs' % (n, target, timeout))
            time.sleep(interval)


def _start_group(conf, first, total, per_process, mode, workdir, tag,
                 concurrency):
    procs = common.start_hosts(
        lambda start, count, _log: common.module_cmd(
            'benchmarks.scale', 'host', '--config-file', conf, '--first',
            start, '--count', count, '--mode', mode, '--concurrency',
            concurrency),
        total, workdir, per_process, tag, first=first, ready=None,
        stdin=subprocess.PIPE)
    return procs, first + total


def run_scale(args):
    from benchmarks import backends
    zk = backends.ZooKeeper(args.tick_time, heap=args.zk_heap).start()
    try:
        conf = backends.zk_conf(args.workdir, zk, args.recv_timeout)
        n, leave = args.n, args.leave
        group = dict(per_process=args.per_process, mode=args.mode,
                     workdir=args.workdir, concurrency=args.concurrency)
        leavers, first = _start_group(conf, 0, leave, tag='leaver', **group)
        crashers, first = _start_group(conf, first, leave, tag='crasher',
                                       **group)
        stayers, first = _start_group(conf, first, n - 2 * leave,
                                      tag='stayer', **group)
        procs = leavers + crashers + stayers
        base = {}
        for proc in procs:
            common.read_line(proc, 'LOADED', 300, proc.log_path)
            base[proc.pid] = common.rss(proc.pid)
        reader = _Reader(conf)
        if reader.count() != 0:
            raise RuntimeError('the group is not empty before the join')
        time.sleep(1)
        zk_before = zk.counters()
        common.log('scale', '%d host processes loaded; joining %d members'
                   % (len(procs), n))
        t0 = time.monotonic()
        reader.timeline = []
        reader.t_origin = t0
        for proc in procs:
            common.send_line(proc, 'join')
        t_all = reader.wait_for(n, 1200, 0.05)
        join_seconds = t_all - t0
        failures = 0
        host_times = []
        for proc in procs:
            fields = common.read_line(proc, 'JOINED', 600,
                                      proc.log_path).split()
            host_times.append(float(fields[1]) - t0)
            failures += int(fields[2])
        common.log('scale', 'all %d joined in %.1fs' % (n, join_seconds))
        time.sleep(5)
        zk_after = zk.counters()
        rss_after = dict((p.pid, common.rss(p.pid)) for p in procs)
        # Idle cost: CPU of the members' processes and of the server.
        cpu0 = sum(common.cpu_seconds(p.pid) or 0 for p in procs)
        zk_idle0 = zk.counters()
        time.sleep(args.idle_window)
        cpu1 = sum(common.cpu_seconds(p.pid) or 0 for p in procs)
        zk_idle1 = zk.counters()
        idle_dt = zk_idle1['time'] - zk_idle0['time']
        idle = {'window': idle_dt,
                'hosts_cpu_per_s': (cpu1 - cpu0) / idle_dt,
                'zk_cpu_per_s': (zk_idle1['cpu'] - zk_idle0['cpu']) / idle_dt,
                'zk_requests_per_s': (zk_idle1['packets_received'] -
                                      zk_idle0['packets_received']) / idle_dt,
                'zk_writes_per_s': (zk_idle1['zxid'] - zk_idle0['zxid']) /
                idle_dt}
        grown = sum(rss_after[p.pid] - base[p.pid] for p in procs)
        timeline_join = list(reader.timeline)

        # Graceful leave of `leave` members at once.
        reader.timeline = []
        reader.t_origin = t1 = time.monotonic()
        for proc in leavers:
            common.send_line(proc, 'leave')
        t_left = reader.wait_for(n - leave, 300, 0.02)
        leave_seconds = t_left - t1
        leave_host = []
        for proc in leavers:
            fields = common.read_line(proc, 'LEFT', 300,
                                      proc.log_path).split()
            leave_host.append(float(fields[1]) - t1)
        timeline_leave = list(reader.timeline)
        common.log('scale', '%d left; reader converged in %.2fs'
                   % (leave, leave_seconds))

        # A crash of as many at once: their sessions expire.
        time.sleep(2)
        reader.timeline = []
        reader.t_origin = t2 = time.monotonic()
        for proc in crashers:
            common.kill(proc)
        t_gone = reader.wait_for(n - 2 * leave, 300, 0.02)
        crash_seconds = t_gone - t2
        timeline_crash = list(reader.timeline)
        common.log('scale', '%d crashed; reader converged in %.2fs'
                   % (leave, crash_seconds))
        granted = int(reader.api._driver._session_timeout() * 1000)
        stats = zk.mntr()
        for proc in procs:
            if proc.poll() is None:
                try:
                    common.send_line(proc, 'exit')
                except Exception:
                    pass
        return {
            'mode': args.mode, 'n': n, 'leave': leave,
            'per_process': args.per_process, 'processes': len(procs),
            'concurrency': args.concurrency,
            'sessions': n if args.mode == 'session' else len(procs),
            'recv_timeout': args.recv_timeout, 'tick_time': args.tick_time,
            'zk_heap': args.zk_heap,
            'granted_timeout_ms': granted,
            'join_seconds': join_seconds,
            'join_per_s': n / join_seconds,
            'host_join_seconds': common.summary(host_times),
            'join_failures': failures,
            'rss_growth_bytes': grown,
            'rss_per_member': grown / float(n),
            'rss_base_per_process': common.summary(list(base.values())),
            'zk_rss_before': zk_before['rss'], 'zk_rss_after': zk_after['rss'],
            'zk_rss_per_member': (zk_after['rss'] - zk_before['rss']) /
            float(n),
            'zk_approximate_data_size': int(stats.get(
                'zk_approximate_data_size', 0)),
            'zk_cpu_join': zk_after['cpu'] - zk_before['cpu'],
            'zk_connections': zk_after['connections'],
            'zk_writes_during_join': zk_after['zxid'] - zk_before['zxid'],
            'idle': idle,
            'leave_seconds': leave_seconds,
            'leave_host_seconds': common.summary(leave_host),
            'crash_seconds': crash_seconds,
            'timeline_join': timeline_join,
            'timeline_leave': timeline_leave,
            'timeline_crash': timeline_crash,
            'zookeeper_version': zk.version(),
        }
    finally:
        common.CHILDREN.kill_all()
        zk.cleanup()


# -- jute.maxbuffer -----------------------------------------------------------

def _zkcli_ls(address, path):
    """``ls path`` with the ZooKeeper Java client (zkCli)."""
    from nova.tests import zkserver
    classpath = zkserver._classpath()
    jute = '/usr/share/java/zookeeper-jute.jar'
    if os.path.exists(jute) and jute not in classpath:
        classpath += ':' + jute
    try:
        proc = subprocess.run(
            ['java', '-Xmx256m', '-cp', classpath,
             'org.apache.zookeeper.ZooKeeperMain', '-server', address,
             'ls', path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=120)
    except Exception as e:
        return {'ok': False, 'error': '%s: %s' % (type(e).__name__, e)}
    out = proc.stdout.decode('utf-8', 'replace')
    err = proc.stderr.decode('utf-8', 'replace')
    listing = [line for line in out.splitlines() if line.startswith('[')]
    if proc.returncode == 0 and listing:
        return {'ok': True, 'children': listing[-1].count(',') + 1}
    lines = [line for line in (err + out).splitlines()
             if 'Keeper' in line or 'Exception' in line or 'Packet' in line]
    return {'ok': False, 'rc': proc.returncode,
            'error': (lines[-1] if lines else (err + out)[-300:]).strip()}


def _kazoo_ls(address, path):
    from kazoo.client import KazooClient
    client = KazooClient(hosts=address, timeout=10)
    client.start(timeout=10)
    try:
        return {'ok': True, 'children': len(client.get_children(path))}
    except Exception as e:
        return {'ok': False, 'error': '%s: %s' % (type(e).__name__, e)}
    finally:
        client.stop()
        client.close()


def _nova_ls(conf, group):
    """The zk driver's reader: get_all(group) on its watched list."""
    from nova import exception
    from nova import servicegroup
    from nova.servicegroup import api
    api.API._driver = None  # a fresh driver, a fresh session
    reader = servicegroup.API()
    try:
        return {'ok': True, 'children': len(reader.get_all(group))}
    except exception.ServiceGroupUnavailable as e:
        return {'ok': False, 'error': 'ServiceGroupUnavailable: %s' % e}
    except Exception as e:
        return {'ok': False, 'error': '%s: %s' % (type(e).__name__, e)}
    finally:
        try:
            reader._driver.cleanup()
        except Exception:
            pass


def run_jute(args):
    """Fill a group with long names up to, and past, what one reply holds.

    The group gets max_children(L) members with L-byte names, then one more,
    then twice as many; after each step three readers list it: the zk
    driver (the ZooKeeper C client), kazoo (tooz's client), and zkCli (the
    Java client, which enforces jute.maxbuffer on replies).
    """
    from kazoo.client import KazooClient
    from benchmarks import backends
    length = args.name_length
    limit = max_children(length)
    zk = backends.ZooKeeper(args.tick_time).start()
    try:
        conf = backends.zk_conf(args.workdir, zk, args.recv_timeout)
        common.load_nova_conf(conf)
        group = 'jute'
        path = '/servicegroups/%s' % group
        writer = KazooClient(hosts=zk.address, timeout=10)
        writer.start(timeout=10)
        writer.ensure_path(path)
        steps = []
        made = 0
        for target in (limit, limit + 1, 2 * limit):
            pending = [writer.create_async('%s/%0*d' % (path, length, i),
                                           ephemeral=True)
                       for i in range(made, target)]
            for result in pending:
                result.get(timeout=60)
            made = target
            reply = REPLY_OVERHEAD + target * (PER_CHILD_OVERHEAD + length)
            step = {'children': target, 'reply_bytes': reply,
                    'over_limit': reply >= JUTE_MAXBUFFER,
                    'nova_zk_driver': _nova_ls(conf, group),
                    'kazoo': _kazoo_ls(zk.address, path),
                    'zkcli': _zkcli_ls(zk.address, path)}
            common.log('jute', target, step['nova_zk_driver'],
                       step['kazoo'], step['zkcli'])
            steps.append(step)
        writer.stop()
        writer.close()
        lengths = [13, 36, 64, 128, 255]
        return {'jute': True, 'maxbuffer': JUTE_MAXBUFFER,
                'name_length': length, 'max_children': limit,
                'steps': steps,
                'limits': dict((str(n), max_children(n)) for n in lengths),
                'zookeeper_version': zk.version()}
    finally:
        zk.cleanup()


def run(args):
    if args.jute:
        return run_jute(args)
    return run_scale(args)


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == 'host':
        sys.exit(host_main(sys.argv[2:]))
    sys.exit(common.job_main(__doc__.split('\n')[0], add_args, run,
                             patch=lambda args: not args.jute))
