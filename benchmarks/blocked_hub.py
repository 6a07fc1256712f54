"""A blocked hub: does a member whose process stops running green threads
for 8 s stay a member?

One worker process joins a group on a ZooKeeper with tickTime 2000 ms and a
session timeout of 4000 ms, waits 2 s, then blocks for ``--seconds``:

* ``sleep``: the unpatched ``time.sleep`` in a green thread (the hub
  cannot run; the GIL is free for other OS threads);
* ``busy``: a pure-Python busy loop (the hub cannot run; the GIL is taken
  back and forth with other OS threads every 5 ms).

Implementations (``--impl``):

* ``nova-zk``: this project's zk driver (``servicegroup.API().join``),
  monkey-patched as nova-compute is; its ZooKeeper I/O runs on the C
  client's own threads.
* ``tooz-eventlet``: tooz with ``handler=eventlet`` (kazoo's
  SequentialEventletHandler), monkey-patched: kazoo's connection loop is a
  green thread.
* ``tooz-green-threads``: tooz with kazoo's default threading handler in a
  monkey-patched process (as in an eventlet-based OpenStack service): its
  "threads" are green threads too.
* ``tooz-threads``: tooz with the threading handler, no monkey patching:
  real OS threads (the control).

A neutral reader (kazoo, real threads, in the job's process) checks every
50 ms whether the member's znode exists.  Reported: whether and when the
node disappeared (relative to the start of the block), whether it came
back, and the worker's session id before and after.
"""

from __future__ import print_function

import argparse
import json
import os
import subprocess
import sys
import threading
import time

from benchmarks import common

IMPLS = ['nova-zk', 'tooz-eventlet', 'tooz-green-threads', 'tooz-threads']
MEMBER = 'blocked-worker'


def _patched(impl):
    return impl != 'tooz-threads'


def member_path(impl):
    if impl == 'nova-zk':
        return '/servicegroups/compute/' + MEMBER
    return '/tooz/compute/' + MEMBER


# -- the worker ---------------------------------------------------------------

def worker_main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('--impl', choices=IMPLS, required=True)
    parser.add_argument('--address', required=True)
    parser.add_argument('--config-file')
    parser.add_argument('--timeout-ms', type=int, default=4000)
    parser.add_argument('--block', choices=['sleep', 'busy'], required=True)
    parser.add_argument('--seconds', type=float, default=8)
    parser.add_argument('--after', type=float, default=2)
    parser.add_argument('--observe', type=float, default=12)
    args = parser.parse_args(argv)
    if _patched(args.impl):
        common.monkey_patch()
    from eventlet import patcher
    real_sleep = patcher.original('time').sleep

    def out(tag, **values):
        values['t'] = time.monotonic()
        print(tag, json.dumps(values))
        sys.stdout.flush()

    states = []
    if args.impl == 'nova-zk':
        common.load_nova_conf(args.config_file)
        from nova import servicegroup
        api = servicegroup.API()
        api.join(MEMBER, 'compute')
        session = api._driver._session

        def session_id():
            try:
                return '0x%x' % session.client_id()[0]
            except Exception as e:
                return 'error: %s' % e

        def member_ok():
            members = api._driver._memberships
            member = members.get(('compute', MEMBER))
            return bool(member is not None and member.joined)
    else:
        from benchmarks import peers
        url = 'kazoo://%s?timeout=%d' % (args.address,
                                         args.timeout_ms // 1000)
        if args.impl == 'tooz-eventlet':
            url += '&handler=eventlet'
        coord = peers.join(url, MEMBER)
        client = coord._coord
        client.add_listener(lambda state: states.append(
            (round(time.monotonic(), 3), str(state))))

        def session_id():
            try:
                return '0x%x' % client.client_id[0]
            except Exception as e:
                return 'error: %s' % e

        def member_ok():
            try:
                return client.exists(member_path(args.impl)) is not None
            except Exception:
                return False
    out('JOINED', session=session_id(), member=member_ok())
    time.sleep(args.after)
    out('BLOCK_START')
    if args.block == 'sleep':
        real_sleep(args.seconds)
    else:
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            pass
    out('BLOCK_END')
    samples = []
    deadline = time.monotonic() + args.observe
    while time.monotonic() < deadline:
        time.sleep(0.5)
        samples.append((round(time.monotonic(), 3), session_id(),
                        member_ok()))
    out('STATUS', session=session_id(), member=member_ok(),
        samples=samples, states=states)
    sys.stdout.flush()
    os._exit(0)


# -- the job ------------------------------------------------------------------

def add_args(parser):
    parser.add_argument('--impl', choices=IMPLS, required=True)
    parser.add_argument('--block', choices=['sleep', 'busy'], default='sleep')
    parser.add_argument('--seconds', type=float, default=8)
    parser.add_argument('--timeout-ms', type=int, default=4000)
    parser.add_argument('--tick-time', type=int, default=2000)
    parser.add_argument('--observe', type=float, default=12)


def _json_line(proc, tag, timeout, log_path):
    return json.loads(common.read_line(proc, tag, timeout, log_path))


def run(args):
    from kazoo.client import KazooClient
    from benchmarks import backends
    zk = backends.ZooKeeper(args.tick_time).start()
    reader = None
    try:
        conf = backends.zk_conf(args.workdir, zk, args.timeout_ms)
        log_path = os.path.join(args.workdir, 'worker.log')
        proc = common.CHILDREN.popen(
            common.module_cmd('benchmarks.blocked_hub', 'worker', '--impl',
                              args.impl, '--address', zk.address,
                              '--config-file', conf, '--timeout-ms',
                              args.timeout_ms, '--block', args.block,
                              '--seconds', args.seconds, '--observe',
                              args.observe),
            stdout=subprocess.PIPE, stderr=open(log_path, 'ab'))
        joined = _json_line(proc, 'JOINED', 120, log_path)
        path = member_path(args.impl)
        reader = KazooClient(hosts=zk.address, timeout=10)
        reader.start(timeout=10)
        timeline = []
        stop = []

        def poll():
            while not stop:
                t = time.monotonic()
                try:
                    present = reader.exists(path) is not None
                except Exception:
                    present = None
                timeline.append((t, present))
                time.sleep(max(0.0, 0.05 - (time.monotonic() - t)))
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        start = _json_line(proc, 'BLOCK_START', 60, log_path)['t']
        end = _json_line(proc, 'BLOCK_END', 120, log_path)['t']
        status = _json_line(proc, 'STATUS', args.observe + 60, log_path)
        stop.append(True)
        poller.join()
        proc.wait()
        rel = [(round(t - start, 3), p) for t, p in timeline]
        absent = [t for t, p in rel if p is False and t >= 0]
        gone_at = absent[0] if absent else None
        back_at = None
        if gone_at is not None:
            later = [t for t, p in rel if p and t > gone_at]
            back_at = later[0] if later else None
        lost = gone_at is not None
        return {
            'impl': args.impl, 'block': args.block,
            'seconds': args.seconds, 'blocked_for': end - start,
            'timeout_ms': args.timeout_ms, 'tick_time': args.tick_time,
            'session_before': joined['session'],
            'session_after': status['session'],
            'session_changed': joined['session'] != status['session'],
            'member_lost': lost, 'gone_at': gone_at, 'back_at': back_at,
            'member_at_end': status['member'],
            'absent_seconds': (None if gone_at is None else
                               (back_at if back_at is not None else
                                rel[-1][0]) - gone_at),
            'worker_states': [(round(t - start, 3), s)
                              for t, s in status.get('states', [])],
            'timeline': rel[::2],
            'zookeeper_version': zk.version(),
        }
    finally:
        if reader is not None:
            try:
                reader.stop()
                reader.close()
            except Exception:
                pass
        zk.cleanup()


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == 'worker':
        worker_main(sys.argv[2:])
    sys.exit(common.job_main(__doc__.split('\n')[0], add_args, run,
                             patch=lambda args: False))
