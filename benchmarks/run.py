#!/usr/bin/env python3
"""Run every benchmark, write doc/benchmarks/results.md and the plots.

    benchmarks/run.py            # the full run (about 25 minutes)
    benchmarks/run.py --quick    # a smoke run with small N (under 3 minutes)
    benchmarks/run.py --only detection,load

Each benchmark job runs in a process of its own (see benchmarks/common.py);
this script starts a throwaway PostgreSQL cluster for the jobs that use one,
runs the jobs (some side by side, see PLAN), collects their JSON results and
builds the report with benchmarks/report.py.  The full run writes to
doc/benchmarks/, the quick run to doc/benchmarks/quick/ (so that a smoke run
does not replace the committed figures); --out-dir chooses another place.
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
VENV_PYTHON = os.path.join(ROOT, '.venv', 'bin', 'python')

if (os.path.exists(VENV_PYTHON) and
        os.path.realpath(sys.prefix) != os.path.realpath(
            os.path.join(ROOT, '.venv')) and
        not os.environ.get('NOVA_BENCH_NO_VENV')):
    # The project's virtualenv has everything (tools/install_venv.sh plus
    # benchmarks/requirements.txt).
    os.execv(VENV_PYTHON, [VENV_PYTHON, os.path.abspath(__file__)] +
             sys.argv[1:])

if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import common  # noqa: E402
from benchmarks import detection  # noqa: E402


def job(bench, name, module, args, timeout, group):
    return {'bench': bench, 'name': name, 'module': module,
            'args': [str(a) for a in args], 'timeout': timeout,
            'group': group}


def plan(quick, pg):
    """The jobs, in order, each with a group; jobs of one group with a
    parallelism above 1 run side by side.  Returns (jobs, parallelism)."""
    jobs = []
    par = {}
    # 1 + 2: crash detection and graceful leave, one run per profile.
    if quick:
        profiles = ['zk', 'zk-fast', 'db-fast', 'mc-fast', 'tooz']
        kills, terms = 5, 3
        par['detection'] = len(profiles)
    else:
        profiles = detection.ORDER
        kills, terms = 30, 15
        par['detection'] = 1
    for p in profiles:
        jobs.append(job('detection', p, 'benchmarks.detection',
                        ['--profile', p, '--kills', kills, '--terms', terms],
                        900, 'detection'))
    # 3: backend load.
    drivers = [('db', 'sqlite'), ('mc', 'sqlite'), ('zk', 'sqlite'),
               ('tooz', 'sqlite')]
    if pg:
        drivers.insert(1, ('db', 'pg'))
    sizes = [10] if quick else [10, 100, 1000]
    window = 20 if quick else 60
    for n in sizes:
        group = 'load-%d' % n
        par[group] = len(drivers) if n <= 100 else 1
        for driver, db in drivers:
            name = '%s%s-%d' % (driver, '-pg' if db == 'pg' else '', n)
            args = ['--driver', driver, '--n', n, '--window', window]
            if db == 'pg':
                args += ['--db', 'pg', '--pg-url', '@PG@' + name.replace(
                    '-', '_')]
            jobs.append(job('load', name, 'benchmarks.load', args, 900,
                            group))
    # 4: read cost, at 1,000 services and (db, zk, tooz) at 10,000.
    n = 200 if quick else 1000
    reads = [('db', 'sqlite', n), ('mc', 'sqlite', n), ('zk', 'sqlite', n),
             ('tooz', 'sqlite', n)]
    if pg:
        reads.insert(1, ('db', 'pg', n))
    if not quick:
        reads += [('db', 'sqlite', 10000), ('zk', 'sqlite', 10000),
                  ('tooz', 'sqlite', 10000)]
    par['reads'] = len(reads) if quick else 1
    for driver, db, size in reads:
        name = driver + ('-pg' if db == 'pg' else '')
        args = ['--driver', driver, '--n', size,
                '--rounds', 3 if quick else 10,
                '--passes', 5 if quick else 20,
                '--manage-runs', 2 if quick else 5]
        if db == 'pg':
            args += ['--db', 'pg', '--pg-url', '@PG@reads_pg']
        if size > 1000:
            name += '-%d' % size
            # see reads.py: heartbeats at the load of 1,000 workers, tooz
            # members without 10,000 coordinators, tooz round trips capped
            args += ['--per-process', 1000, '--report-interval', 100,
                     '--service-down-time', 3600]
            if driver == 'tooz':
                args += ['--direct-members', '--max-calls', 2000]
        jobs.append(job('reads', name, 'benchmarks.reads', args, 1200,
                        'reads'))
    # 5: scale.
    if quick:
        scale = [('shared', 500, 100, 100), ('session', 500, 100, 100)]
        par['scale'] = 3
    else:
        scale = [('shared', 10000, 1000, 500), ('session', 5000, 1000, 500)]
        par['scale'] = 1
    for mode, members, leave, per in scale:
        jobs.append(job('scale', '%s-%d' % (mode, members),
                        'benchmarks.scale',
                        ['--mode', mode, '--n', members, '--leave', leave,
                         '--per-process', per,
                         '--idle-window', 5 if quick else 10],
                        1200, 'scale'))
    jobs.append(job('scale', 'jute', 'benchmarks.scale', ['--jute'], 600,
                    'scale'))
    # 6: blocked hub (in the quick run beside the scale jobs: the blocks
    # are sleeps, which take no CPU).
    impls = ['nova-zk', 'tooz-eventlet', 'tooz-green-threads', 'tooz-threads']
    blocks = ['sleep'] if quick else ['sleep', 'busy']
    group = 'scale' if quick else 'blocked'
    if quick:
        par['scale'] += len(impls)
    else:
        par['blocked'] = 1
    for block in blocks:
        for impl in impls:
            jobs.append(job('blocked_hub', '%s-%s' % (impl, block),
                            'benchmarks.blocked_hub',
                            ['--impl', impl, '--block', block], 300, group))
    return jobs, par


class Runner(object):
    def __init__(self, run_dir, pg):
        self.run_dir = run_dir
        self.pg = pg
        self.running = []
        self.results = {}
        self.durations = {}

    def _start(self, spec):
        name = '%s-%s' % (spec['bench'], spec['name'])
        workdir = tempfile.mkdtemp(prefix='nova-bench-%s-' % name)
        out = os.path.join(self.run_dir, name + '.json')
        log = os.path.join(self.run_dir, name + '.log')
        args = []
        for a in spec['args']:
            if a.startswith('@PG@'):
                a = self.pg.url(a[4:])
            args.append(a)
        cmd = common.module_cmd(spec['module'], *args) + [
            '--out', out, '--workdir', workdir]
        with open(log, 'ab') as f:
            proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                                    env=common.env(), cwd=ROOT)
        common.log('start', name)
        return {'spec': spec, 'name': name, 'proc': proc, 'out': out,
                'log': log, 'workdir': workdir, 'started': time.time()}

    def _finish(self, entry, timed_out=False):
        spec = entry['spec']
        result = None
        if os.path.exists(entry['out']):
            try:
                result = common.read_json(entry['out'])
            except ValueError as e:
                result = {'error': 'unreadable result: %s' % e}
        if result is None:
            result = {'error': 'the job ended (exit %s) without a result'
                               % entry['proc'].returncode}
        if timed_out:
            result = {'error': 'timed out after %ds' % spec['timeout']}
        seconds = time.time() - entry['started']
        self.results.setdefault(spec['bench'], {})[spec['name']] = result
        self.durations[entry['name']] = seconds
        ok = 'error' not in result
        common.log('done' if ok else 'FAILED', entry['name'],
                   '%.0fs' % seconds, '' if ok else '(see %s)' % entry['log'])
        if ok:
            shutil.rmtree(entry['workdir'], ignore_errors=True)

    def _poll(self):
        still = []
        for entry in self.running:
            proc = entry['proc']
            if proc.poll() is not None:
                self._finish(entry)
            elif time.time() - entry['started'] > entry['spec']['timeout']:
                self._terminate(entry)
                self._finish(entry, timed_out=True)
            else:
                still.append(entry)
        self.running = still

    def _terminate(self, entry):
        common.stop(entry['proc'], timeout=60)

    def run(self, jobs, par):
        groups = []
        for spec in jobs:
            if not groups or groups[-1][0] != spec['group']:
                groups.append((spec['group'], []))
            groups[-1][1].append(spec)
        for group, specs in groups:
            width = max(1, par.get(group, 1))
            pending = list(specs)
            while pending or self.running:
                while pending and len(self.running) < width:
                    self.running.append(self._start(pending.pop(0)))
                time.sleep(0.5)
                self._poll()

    def stop(self):
        for entry in self.running:
            self._terminate(entry)
            self._finish(entry)
        self.running = []


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='small N, short windows (CI smoke run)')
    parser.add_argument('--only', default=None,
                        help='comma-separated benches: detection, load, '
                             'reads, scale, blocked_hub')
    parser.add_argument('--out-dir', default=None)
    parser.add_argument('--no-pg', action='store_true',
                        help='skip PostgreSQL')
    parser.add_argument('--keep-logs', action='store_true')
    args = parser.parse_args(argv)
    from benchmarks import backends
    from benchmarks import report

    out_dir = args.out_dir or os.path.join(
        ROOT, 'doc', 'benchmarks', 'quick' if args.quick else '')
    out_dir = os.path.abspath(out_dir)
    run_dir = tempfile.mkdtemp(prefix='nova-bench-run-')
    started = time.time()
    pg = None
    pg_note = None
    pg_version = None
    if args.no_pg:
        pg_note = 'skipped (--no-pg)'
    else:
        try:
            pg = backends.PgCluster().start()
            pg_version = pg.version()
        except Exception as e:
            pg = None
            pg_note = 'PostgreSQL could not run here, its rows are ' \
                      'missing: %s' % e
            print('NOTE: %s' % pg_note)
    jobs, par = plan(args.quick, pg is not None)
    if args.only:
        wanted = set(args.only.split(','))
        jobs = [j for j in jobs if j['bench'] in wanted]
    common.log('run', '%d jobs, logs in %s' % (len(jobs), run_dir))
    runner = Runner(run_dir, pg)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)
    interrupted = False
    try:
        runner.run(jobs, par)
    except KeyboardInterrupt:
        interrupted = True
        common.log('run', 'interrupted: stopping the jobs')
        runner.stop()
    finally:
        if pg is not None:
            pg.stop()
    total = time.time() - started
    data = {
        'date': report.now(),
        'total_seconds': total,
        'machine': report.machine_info(pg_version),
        'settings': {
            'command': 'benchmarks/run.py' + (' --quick' if args.quick
                                              else ''),
            'mode': 'quick' if args.quick else 'full',
            'jobs': dict(('%s-%s' % (j['bench'], j['name']),
                          ' '.join(j['args'])) for j in jobs),
            'parallel_groups': par,
            'job_seconds': dict((k, round(v, 1))
                                for k, v in runner.durations.items()),
        },
        'results': runner.results,
        'postgres_note': pg_note,
        'notes': (['the run was interrupted; results are partial']
                  if interrupted else []),
    }
    text = report.build(data, out_dir)
    print(text)
    failed = sorted('%s-%s' % (b, n) for b, rs in runner.results.items()
                    for n, r in rs.items() if 'error' in r)
    common.log('run', 'wrote %s (%.1f min)%s' % (
        os.path.join(out_dir, 'results.md'), total / 60.0,
        '; failed: ' + ', '.join(failed) if failed else ''))
    if not failed and not args.keep_logs:
        shutil.rmtree(run_dir, ignore_errors=True)
    else:
        common.log('run', 'job logs kept in %s' % run_dir)
    return 1 if failed or interrupted else 0


if __name__ == '__main__':
    sys.exit(main())
