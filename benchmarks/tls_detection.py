"""Crash detection and clean stop of the zk driver, over TLS and in clear.

    tools/with_venv.sh python -m benchmarks.tls_detection [--workers 6]
        [--rounds 2] [--fast]

For each mode (plain, TLS) a ZooKeeper server of its own (TLS: a
secureClientPort only, certificates made with openssl), real nova-compute
workers (nova.tests.functional.cloud), and a reader in this process (the
servicegroup API, polled every 50 ms).  Half the workers get SIGKILL (a
crash: the node goes when the session expires), half SIGTERM (a clean stop:
the worker deletes its node), one every 0.3 s; a time is from the signal to
the first poll that saw the worker down.  Both modes run on the OpenSSL build
of the C client (tools/build_zk_tls.sh), plain mode through zookeeper.init,
so that TLS is the only difference: this process re-executes itself with
ZOOKEEPER_C_LIBRARY pointing at it.

Separate from benchmarks/run.py on purpose: its reader needs that library in
its own process, the stock one must stay the default everywhere else.
"""

from __future__ import print_function

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
POLL = 0.05
STAGGER = 0.3


def tls_library():
    path = os.environ.get('ZOOKEEPER_C_LIBRARY_TLS')
    if path:
        return path
    out = subprocess.check_output(
        ['bash', os.path.join(ROOT, 'tools', 'build_zk_tls.sh'),
         '--print-path'])
    return out.decode('utf-8').strip().splitlines()[-1]


def median(values):
    values = sorted(values)
    mid = len(values) // 2
    if len(values) % 2:
        return values[mid]
    return (values[mid - 1] + values[mid]) / 2.0


def run_mode(tls, args, base):
    """{'kill': [seconds...], 'term': [...]} for one mode."""
    import eventlet
    from nova import servicegroup
    from nova.tests.functional import cloud
    from nova.tests import zkserver
    from oslo_config import cfg

    conf = cfg.CONF
    mode_dir = os.path.join(base, 'tls' if tls else 'plain')
    os.makedirs(mode_dir)
    certs = zkserver.TLSCertificates(os.path.join(mode_dir, 'pki')) \
        if tls else None
    server = zkserver.ZooKeeperServer(tick_time=args.tick_time, tls=certs,
                                      base_dir=os.path.join(mode_dir, 'zk'))
    server.start()
    zk_conf = {'address': server.address,
               'recv_timeout': str(args.recv_timeout),
               'sg_retry_interval': '1',
               'sg_prefix': '/bench-%s' % ('tls' if tls else 'plain')}
    if tls:
        zk_conf.update(ssl_ca_file=certs.ca, ssl_cert_file=certs.client_cert,
                       ssl_key_file=certs.client_key)
    state = os.path.join(mode_dir, 'state')
    os.makedirs(state)
    the_cloud = cloud.Cloud(state, {'DEFAULT': {'servicegroup_driver': 'zk'},
                                    'zookeeper': zk_conf})
    the_cloud.setUp()
    times = {'kill': [], 'term': []}
    api = None
    try:
        for key, value in zk_conf.items():
            conf.set_override(key, value, group='zookeeper')
        conf.set_override('servicegroup_driver', 'zk')
        servicegroup.API._driver = None
        api = servicegroup.API()
        for round_ in range(args.rounds):
            hosts = ['%s-r%d-w%d' % ('tls' if tls else 'plain', round_, i)
                     for i in range(args.workers)]
            for host in hosts:
                the_cloud.start_worker(host)

            def up(host):
                return api.service_is_up({'host': host, 'topic': 'compute'})

            deadline = time.time() + 90
            while not all(up(h) for h in hosts):
                if time.time() > deadline:
                    raise RuntimeError('workers did not come up')
                eventlet.sleep(POLL)
            # One loop sends the signals and polls, on one clock.
            schedule = [(time.time() + i * STAGGER, host,
                         'kill' if i % 2 == 0 else 'term')
                        for i, host in enumerate(hosts)]
            signalled = {}
            deadline = time.time() + len(hosts) * STAGGER + 60
            while (schedule or signalled) and time.time() < deadline:
                while schedule and schedule[0][0] <= time.time():
                    _when, host, kind = schedule.pop(0)
                    the_cloud.signal(host, signal.SIGKILL if kind == 'kill'
                                     else signal.SIGTERM)
                    signalled[host] = (kind, time.time())
                for host in list(signalled):
                    if not up(host):
                        kind, started = signalled.pop(host)
                        times[kind].append(time.time() - started)
                eventlet.sleep(POLL)
            if signalled:
                raise RuntimeError('still up after 60 s: %s'
                                   % sorted(signalled))
    finally:
        if api is not None:
            api._driver.cleanup()
        servicegroup.API._driver = None
        the_cloud.cleanUp()
        server.cleanup()
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--workers', type=int, default=6)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--fast', action='store_true',
                        help='recv_timeout 1000 ms, tickTime 200 ms '
                             '(default: 4000 ms, 2000 ms)')
    args = parser.parse_args()
    args.recv_timeout, args.tick_time = (1000, 200) if args.fast \
        else (4000, 2000)
    library = tls_library()
    if os.environ.get('ZOOKEEPER_C_LIBRARY') != library:
        env = dict(os.environ, ZOOKEEPER_C_LIBRARY=library)
        paths = [ROOT, os.path.join(ROOT, 'ports', 'zookeeper'),
                 os.path.join(ROOT, 'ports', 'evzookeeper')]
        env['PYTHONPATH'] = os.pathsep.join(
            paths + [p for p in [env.get('PYTHONPATH')] if p])
        os.execve(sys.executable, [sys.executable, '-m',
                                   'benchmarks.tls_detection'] + sys.argv[1:],
                  env)
    # Every module that registers options, before the parse (oslo.config
    # refuses command-line options registered after it).
    from nova import config
    from nova import servicegroup  # noqa
    from nova.servicegroup.drivers import zk  # noqa
    config.parse_args(['tls_detection'])
    import zookeeper
    base = tempfile.mkdtemp(prefix='nova-tls-bench-')
    try:
        results = [('plain', run_mode(False, args, base)),
                   ('TLS', run_mode(True, args, base))]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print('zk driver, recv_timeout %d ms, tickTime %d ms, %d workers x %d '
          'rounds, C client %s' % (args.recv_timeout, args.tick_time,
                                   args.workers, args.rounds,
                                   zookeeper.LIBRARY))
    print('%-6s %-32s %-32s' % ('mode', 'crash detection median (min-max)',
                                'clean stop median (min-max)'))
    for mode, times in results:
        cells = ['%.2f s (%.2f-%.2f), n=%d' % (median(t), min(t), max(t),
                                               len(t))
                 for t in (times['kill'], times['term'])]
        print('%-6s %-32s %-32s' % (mode, cells[0], cells[1]))


if __name__ == '__main__':
    main()
