"""The operator's state command against the real Nova 34 of the lane.

    python tools/nova34/check_service_list.py --mode threading|eventlet
        [--zk HOST:PORT]

Run with the lane's Python (.venv-nova34).  It makes a scratch SQLite main
database (and an API database with one cell mapping), with Nova's own
migrations and objects, writes three service rows (node1 fresh, node2 last
seen two hours ago, node3 disabled and seen two hours ago) and runs
nova-zk-service-list (zkgroup's console script) with the ``db`` driver,
one database and cells; with ``zk``
(when --zk is given and the patched Nova has the driver) while a separate
process has joined node1 through Nova's servicegroup API; with ``zk`` and
no ZooKeeper answering (exit 3, one line on stderr); and with a bad
servicegroup_driver (exit 2).  The mode is chosen as an operator would:
[DEFAULT] concurrency_backend in nova.conf.

Prints one line a check and, last,
"service-list-MODE: N passed, N failed".
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

MODES = ('threading', 'eventlet')

# Seeds the databases, in a process of its own (Nova's config is global).
SEED = textwrap.dedent('''
    import sys
    from nova import monkey_patch
    monkey_patch.patch(backend='threading')
    import datetime
    from oslo_utils import timeutils
    from oslo_utils import uuidutils
    from nova import config, context, objects
    from nova.db import migration
    from nova.db.main import api as db
    config.parse_args(['seed', '--config-file', sys.argv[2]])
    objects.register_all()
    migration.db_sync(database='main')
    ctxt = context.get_admin_context()
    if len(sys.argv) > 3:
        migration.db_sync(database='api')
        objects.CellMapping(ctxt, uuid=uuidutils.generate_uuid(),
                            name='cell1', transport_url='none:///',
                            database_connection=sys.argv[3]).create()
    for host, disabled in (('node1', False), ('node2', False),
                           ('node3', True)):
        svc = objects.Service(ctxt, host=host, binary='nova-compute',
                              topic='compute', disabled=disabled)
        svc.create()
    old = timeutils.utcnow() - datetime.timedelta(hours=2)
    for host in ('node1', 'node2', 'node3'):
        svc = objects.Service.get_by_args(ctxt, host, 'nova-compute')
        when = timeutils.utcnow() if host == 'node1' else old
        # the db driver reads last_seen_up (else created_at)
        db.service_update(ctxt, svc.id, {'updated_at': when,
                                         'last_seen_up': when})
    print('seeded')
''')

# Joins node1 to the compute group through Nova's servicegroup API and
# stays until killed.
JOIN = textwrap.dedent('''
    import sys
    from nova import monkey_patch
    monkey_patch.patch(backend='threading')
    import time
    from nova import config, objects, servicegroup
    config.parse_args(['join', '--config-file', sys.argv[2]], init_rpc=False)
    print('mode', 'eventlet' if monkey_patch.is_patched() else 'threading',
          flush=True)
    objects.register_all()
    api = servicegroup.API()
    api.join('node1', 'compute')
    print('joined', flush=True)
    while True:
        time.sleep(1)
''')


class Checks(object):

    def __init__(self, mode):
        self.mode = mode
        self.passed = self.failed = 0

    def check(self, name, ok, detail=''):
        if ok:
            self.passed += 1
            print('ok    %s' % name)
        else:
            self.failed += 1
            print('FAIL  %s%s' % (name, '\n' + textwrap.indent(
                detail.rstrip(), '      | ') if detail else ''))
        sys.stdout.flush()


def read_tail(path, size=3000):
    with open(path, errors='replace') as f:
        return f.read()[-size:]


def free_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def write_conf(path, mode, driver, main_url, api_url=None, zk=None):
    lines = ['[DEFAULT]',
             'servicegroup_driver = %s' % driver,
             'concurrency_backend = %s' % mode,
             'state_path = %s' % os.path.dirname(path),
             '[database]',
             'connection = %s' % main_url]
    if api_url:
        lines += ['[api_database]', 'connection = %s' % api_url]
    if zk:
        lines += ['[zookeeper]', 'address = %s' % zk, 'recv_timeout = 4000']
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def service_list_cmd():
    # zkgroup's console script: a venv without it fails the checks
    return [os.path.join(os.path.dirname(sys.executable),
                         'nova-zk-service-list')]


def env_for(mode):
    env = dict(os.environ)
    # The mode comes from nova.conf, as for an operator.
    env.pop('OS_NOVA_DISABLE_EVENTLET_PATCHING', None)
    return env


def run(cmd, mode, timeout=120):
    t0 = time.time()
    # cwd: not a checkout of this project, whose nova/ would shadow Nova's
    # for `python -c` and `python -m`.
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env=env_for(mode), timeout=timeout,
                          cwd=os.path.dirname(sys.executable))
    return proc, time.time() - t0


def table(stdout):
    """{host: (zone, status, state)} of the rows; None when the header is
    not Grizzly's."""
    lines = stdout.splitlines()
    if not lines or lines[0].split() != ['Binary', 'Host', 'Zone', 'Status',
                                         'State', 'Updated_At']:
        return None
    rows = {}
    for line in lines[1:]:
        parts = line.split()
        if len(parts) >= 5:
            rows[parts[1]] = (parts[0], parts[2], parts[3], parts[4])
    return rows


def expect_rows(checks, name, proc, elapsed, want):
    rows = table(proc.stdout)
    ok = proc.returncode == 0 and rows == want
    checks.check('%s (exit %d, %.1f s)' % (name, proc.returncode, elapsed),
                 ok, '' if ok else 'want %r\nstdout:\n%s\nstderr:\n%s'
                 % (want, proc.stdout, proc.stderr[-3000:]))


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--mode', choices=MODES, required=True)
    parser.add_argument('--zk', help='a running ZooKeeper (HOST:PORT)')
    parser.add_argument('--keep', action='store_true',
                        help='keep the scratch folder')
    args = parser.parse_args(argv)
    mode = args.mode
    checks = Checks(mode)
    work = tempfile.mkdtemp(prefix='nova34-service-list.')
    cmd = service_list_cmd()
    joiner = None
    try:
        main_url = 'sqlite:///%s/nova.sqlite' % work
        api_url = 'sqlite:///%s/nova_api.sqlite' % work
        cells_conf = write_conf(os.path.join(work, 'cells.conf'), mode, 'db',
                                main_url, api_url)
        # (--config-file: nova.monkey_patch reads the mode from that file)
        proc, _t = run([sys.executable, '-c', SEED, '--config-file',
                        cells_conf, main_url],
                       mode)
        if proc.returncode != 0 or 'seeded' not in proc.stdout:
            checks.check('seed the databases with Nova\'s migrations and '
                         'objects', False, proc.stdout + proc.stderr[-4000:])
            return finish(checks)

        fresh = ('nova-compute', 'nova', 'enabled', ':-)')
        stale = ('nova-compute', 'nova', 'enabled', 'XXX')
        off_up = ('nova-compute', 'nova', 'disabled', 'XXX')
        want_db = {'node1': fresh, 'node2': stale, 'node3': off_up}
        single_conf = write_conf(os.path.join(work, 'single.conf'), mode,
                                 'db', main_url)
        proc, t = run(cmd + ['--config-file', single_conf], mode)
        expect_rows(checks, 'db driver, one database', proc, t, want_db)
        proc, t = run(cmd + ['--config-file', cells_conf], mode)
        expect_rows(checks, 'db driver, API database and cell1', proc, t,
                    want_db)
        proc, t = run(cmd + ['--config-file', single_conf,
                             '--host', 'node2'], mode)
        expect_rows(checks, 'db driver, --host node2', proc, t,
                    {'node2': stale})

        bad_conf = write_conf(os.path.join(work, 'bad.conf'), mode,
                              'nosuchdriver', main_url)
        proc, t = run(cmd + ['--config-file', bad_conf], mode)
        checks.check('servicegroup_driver=nosuchdriver: exit 2, one line '
                     '(exit %d)' % proc.returncode,
                     proc.returncode == 2 and not proc.stdout
                     and len(proc.stderr.strip().splitlines()) == 1,
                     proc.stdout + proc.stderr[-3000:])

        if args.zk:
            zk_conf = write_conf(os.path.join(work, 'zk.conf'), mode, 'zk',
                                 main_url, api_url, zk=args.zk)
            joiner = subprocess.Popen(
                [sys.executable, '-c', JOIN, '--config-file', zk_conf],
                stdout=subprocess.PIPE,
                stderr=open(os.path.join(work, 'join.log'), 'w'), text=True,
                env=env_for(mode), cwd=os.path.dirname(sys.executable))
            mode_line = joiner.stdout.readline().split()
            checks.check('the joining process runs in %s mode (%s)'
                         % (mode, ' '.join(mode_line[1:])),
                         mode_line == ['mode', mode])
            line = joiner.stdout.readline()
            if line.strip() != 'joined':
                checks.check('node1 joins through Nova\'s servicegroup API '
                             '(zk)', False,
                             read_tail(os.path.join(work, 'join.log')))
            else:
                # zk: node1 is up for its znode, whatever its row says.
                proc, t = run(cmd + ['--config-file', zk_conf], mode)
                expect_rows(checks, 'zk driver, node1 joined', proc, t,
                            {'node1': fresh,
                             'node2': stale, 'node3': off_up})
            typo = write_conf(os.path.join(work, 'zk-typo.conf'), mode, 'zk',
                              main_url, zk='127.0.0.1:21a81')
            proc, t = run(cmd + ['--config-file', typo], mode)
            err = proc.stderr.strip().splitlines()
            checks.check('zk driver, [zookeeper] address 127.0.0.1:21a81: '
                         'exit 2, one line naming the option (exit %d): %s'
                         % (proc.returncode, err[-1] if err else ''),
                         proc.returncode == 2 and not proc.stdout
                         and len(err) == 1
                         and '[zookeeper] address' in err[0],
                         proc.stdout + proc.stderr[-3000:])
            dead = write_conf(os.path.join(work, 'zk-dead.conf'), mode, 'zk',
                              main_url, zk='127.0.0.1:%d' % free_port())
            proc, t = run(cmd + ['--config-file', dead], mode)
            err = proc.stderr.strip().splitlines()
            checks.check('zk driver, no ZooKeeper: exit 3, one line on '
                         'stderr, no table (exit %d, %.1f s): %s'
                         % (proc.returncode, t, err[-1] if err else ''),
                         proc.returncode == 3 and not proc.stdout
                         and len(err) == 1,
                         proc.stdout + proc.stderr[-3000:])
        return finish(checks)
    finally:
        if joiner is not None:
            joiner.kill()
            joiner.wait()
        if args.keep:
            print('kept %s' % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


def finish(checks):
    print('service-list-%s: %d passed, %d failed'
          % (checks.mode, checks.passed, checks.failed))
    return 1 if checks.failed or not checks.passed else 0


if __name__ == '__main__':
    sys.exit(main())
