"""The peer: group membership with tooz's ZooKeeper driver over kazoo.

tooz (OpenStack's coordination library) is what later OpenStack services
use for membership.  A member is a coordinator made with
``tooz.coordination.get_coordinator('kazoo://127.0.0.1:PORT?timeout=4',
member_id)``: one kazoo client, so one ZooKeeper session, holding the
ephemeral node ``/tooz/<group>/<member>``.  ``start(start_heart=True)``
runs tooz's heartbeat thread (for this driver a ``get`` of the base path
every ``timeout`` seconds; kazoo itself pings after a third of the session
timeout of silence).  A reader calls ``get_members(group)``: one
``get_children`` round trip per call (tooz keeps no watched cache; its
watchers poll and diff the same list).

Workers here use kazoo's default threading handler in a process that is
not monkey-patched (real OS threads), unless ``--handler eventlet`` or
``--green`` say otherwise (see blocked_hub.py).

    python -m benchmarks.peers worker --url URL --member M [--group G]
    python -m benchmarks.peers host --url URL --prefix P --first I --count K
"""

from __future__ import print_function

import argparse
import sys
import time

from benchmarks import common

GROUP = b'compute'


def coordinator(url, member):
    from tooz import coordination
    if not isinstance(member, bytes):
        member = member.encode('utf-8')
    return coordination.get_coordinator(url, member)


def ensure_group(coord, group=GROUP):
    from tooz import coordination
    try:
        coord.create_group(group).get()
    except coordination.GroupAlreadyExist:
        pass


def join(url, member, group=GROUP, heart=True, attempts=5):
    """Start a coordinator and join; a lost connection (a busy machine)
    is retried."""
    import tooz
    from tooz import coordination
    coord = coordinator(url, member)
    coord.start(start_heart=heart)
    for attempt in range(attempts):
        try:
            ensure_group(coord, group)
            coord.join_group(group).get()
            return coord
        except coordination.MemberAlreadyExist:
            return coord  # the previous attempt made it after all
        except tooz.ToozError:
            if attempt == attempts - 1:
                raise
            time.sleep(1)
    return coord


def leave(coord, group=GROUP):
    try:
        coord.leave_group(group).get()
    finally:
        coord.stop()


class Reader(object):
    """A tooz coordinator that only reads the member list."""

    def __init__(self, url, member='bench-reader', group=GROUP):
        self.group = group
        self.coord = coordinator(url, member)
        self.coord.start(start_heart=True)
        ensure_group(self.coord, group)

    def members(self):
        return set(m.decode('utf-8') for m in
                   self.coord.get_members(self.group).get())

    def is_up(self, member):
        return member in self.members()

    def close(self):
        self.coord.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command')
    sub.required = True
    worker = sub.add_parser('worker', help='one member; leaves on SIGTERM')
    worker.add_argument('--url', required=True)
    worker.add_argument('--member', required=True)
    host = sub.add_parser('host', help='COUNT members, one session each')
    host.add_argument('--url', required=True)
    host.add_argument('--prefix', default='sim-')
    host.add_argument('--first', type=int, default=0)
    host.add_argument('--count', type=int, required=True)
    for p in (worker, host):
        p.add_argument('--group', default=GROUP.decode())
    args = parser.parse_args(argv)
    group = args.group.encode()

    if args.command == 'worker':
        coord = join(args.url, args.member, group)
        print('READY 1')
        sys.stdout.flush()
        common.wait_for_term(0.02)
        leave(coord, group)
        print('STOPPED')
        return 0

    from concurrent import futures
    # Import the driver before the threads do: stevedore's first load of a
    # plugin from several threads at once can deadlock on import locks.
    import tooz.coordination  # noqa: F401
    import tooz.drivers.zookeeper  # noqa: F401
    started = time.time()
    names = ['%s%05d' % (args.prefix, args.first + i)
             for i in range(args.count)]
    with futures.ThreadPoolExecutor(16) as pool:
        coords = list(pool.map(lambda n: join(args.url, n, group), names))
    print('READY %d %.3f' % (len(coords), time.time() - started))
    sys.stdout.flush()
    common.wait_for_term(0.02)
    with futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda c: leave(c, group), coords))
    print('STOPPED')
    return 0


def start_hosts(url, n, workdir, prefix='sim-', per_process=100,
                timeout=600, tag='tooz'):
    """Start ceil(n / per_process) tooz hosts; wait until all are READY."""
    return common.start_hosts(
        lambda first, count, _log: common.module_cmd(
            'benchmarks.peers', 'host', '--url', url, '--prefix', prefix,
            '--first', first, '--count', count),
        n, workdir, per_process, tag, timeout=timeout)


if __name__ == '__main__':
    sys.exit(main())
