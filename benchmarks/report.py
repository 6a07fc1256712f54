"""Turn the jobs' JSON results into doc/benchmarks/results.md and PNGs.

``build(results, out_dir)`` writes results.md, results.json and the plots
and returns the Markdown text.  ``python -m benchmarks.report DIR`` rebuilds
the report from DIR/results.json.
"""

from __future__ import print_function

import datetime
import json
import os
import platform
import subprocess
import sys

from benchmarks import detection
from benchmarks import leave

DRIVER_NAMES = {'zk': 'zk (this port)', 'db': 'db', 'mc': 'mc',
                'tooz': 'tooz/kazoo'}


# -- formatting ---------------------------------------------------------------

def _num(value, digits=2):
    if value is None:
        return 'n/a'
    if isinstance(value, float) and value != 0 and abs(value) < 10 ** -digits:
        return '%.2g' % value
    return ('%.' + str(digits) + 'f') % value


def _us(seconds):
    return 'n/a' if seconds is None else '%.1f' % (seconds * 1e6)


def _ms(seconds):
    return 'n/a' if seconds is None else '%.1f' % (seconds * 1e3)


def _ratio(a, b):
    if a is None or b is None:
        return 'n/a'
    if b == 0:
        return 'n/a' if a == 0 else 'inf'
    r = a / b
    if r == 0:
        return '0'
    if r < 0.1:
        return '1/%.0f' % (1 / r)
    if r >= 100:
        return '%.0fx' % r
    if r >= 10:
        return '%.1fx' % r
    return '%.2fx' % r


def _or_dash(fmt):
    """``fmt`` of a value, '-' where there is none."""
    return lambda value: '-' if value is None else fmt(value)


def _num1(value):
    return _num(value, 1)


def _num3(value):
    return _num(value, 3)


def _cell(item, get):
    if callable(get):
        return get(item)
    if isinstance(get, int):
        return item[get]
    for key in get.split('.'):
        item = item.get(key) if item is not None else None
    return item


def columns_table(columns, items):
    """A Markdown table from its declaration: ``columns`` is a list of
    (header, get[, format]), one a column.  ``get`` makes the value of
    that column for one item: a function of the item, a key path into it
    ('is_up.median', None where a key is missing) or an index; ``format``
    (str unless given) makes the cell of the value."""
    columns = [tuple(c) + (str,) * (3 - len(c)) for c in columns]
    lines = ['| ' + ' | '.join(header for header, _g, _f in columns) + ' |',
             '|' + '|'.join('---' for _c in columns) + '|']
    for item in items:
        lines.append('| ' + ' | '.join(str(fmt(_cell(item, get)))
                                       for _h, get, fmt in columns) + ' |')
    return '\n'.join(lines)


def _ok(result):
    return isinstance(result, dict) and 'error' not in result


def _failed(name, result):
    error = (result or {}).get('error', 'no result') if isinstance(
        result, dict) else 'no result'
    last = [line for line in error.strip().splitlines() if line.strip()]
    return '* `%s` failed: `%s` (log: see run directory)' % (
        name, (last[-1] if last else error)[:300])


# -- machine ------------------------------------------------------------------

def _cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except IOError:
        pass
    return platform.processor() or '?'


def _dpkg_version(package):
    try:
        out = subprocess.run(['dpkg-query', '-W', '-f=${Version}', package],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             timeout=10)
        return out.stdout.decode().strip() or None
    except Exception:
        return None


def _dist_version(name):
    try:
        from importlib import metadata
        return metadata.version(name)
    except Exception:
        return None


def machine_info(pg_version=None):
    import sqlite3
    try:
        import psutil
        ram = '%.1f GiB' % (psutil.virtual_memory().total / 2.0 ** 30)
    except Exception:
        ram = '?'
    return {
        'cpu': _cpu_model(),
        'cores': os.cpu_count(),
        'ram': ram,
        'kernel': platform.release(),
        'os': _os_name(),
        'python': platform.python_version(),
        'zookeeper_server': _dpkg_version('zookeeper'),
        'zookeeper_c_client': _dpkg_version('libzookeeper-mt2'),
        'memcached': _dpkg_version('memcached'),
        'sqlite': sqlite3.sqlite_version,
        'postgresql': pg_version,
        'java': _java_version(),
        'eventlet': _dist_version('eventlet'),
        'kazoo': _dist_version('kazoo'),
        'tooz': _dist_version('tooz'),
        'SQLAlchemy': _dist_version('SQLAlchemy'),
        'python-memcached': _dist_version('python-memcached'),
        'pg8000': _dist_version('pg8000'),
    }


def _os_name():
    try:
        with open('/etc/os-release') as f:
            for line in f:
                if line.startswith('PRETTY_NAME='):
                    return line.split('=', 1)[1].strip().strip('"')
    except IOError:
        pass
    return platform.system()


def _java_version():
    try:
        out = subprocess.run(['java', '-version'], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=20)
        return out.stdout.decode().splitlines()[0].strip()
    except Exception:
        return None


# -- sections -----------------------------------------------------------------

def _split(results, what, key=None):
    """The results that worked (each with its ``name``), sorted by name
    (or ``key`` of (name, result)), and a line for each that failed."""
    ok, failures = [], []
    for name, result in sorted(results.items(), key=key):
        if _ok(result):
            ok.append(dict(result, name=name))
        else:
            failures.append(_failed('%s %s' % (what, name), result))
    return ok, failures


def _end(lines, notes, plot, alt):
    """A section's last lines: its notes (failures), then its plot."""
    lines.extend(notes + ([''] if notes else []))
    if plot:
        lines.extend(['![%s](%s)' % (alt, plot), ''])
    return '\n'.join(lines)


def detection_section(results, key, title, plot):
    summary = key + '_summary'
    ok = [dict(results[name], name=name) for name in detection.ORDER
          if _ok(results.get(name)) and
          results[name].get(summary, {}).get('n')]
    medians = dict((r['name'], r[summary].get('median')) for r in ok)
    lines = ['## %s' % title, '']
    if key == 'kill':
        lines.append(
            'Time from SIGKILL of a worker process to the first poll of a '
            'reader (every %s s, in the benchmark process) that saw '
            '`service_is_up` false (tooz: the member missing from '
            '`get_members`). Workers are real processes: `python -m '
            'nova.cmd.compute` (db, mc, zk) and one tooz coordinator per '
            'process (tooz); the kills of a profile are staggered by about '
            '0.4 s and run concurrently.' % _poll(results))
    else:
        lines.append(
            'Time from SIGTERM of a worker process (a graceful stop: nova '
            'stops its service timers, which for zk deletes the member node '
            'and for db/mc only ends the heartbeat; the tooz worker calls '
            '`leave_group`) to the first poll that saw it gone. Same runs as '
            'the crash detection.')
        lines.append('')
        lines.append(columns_table(
            [('driver', 0), ('a graceful stop is', 1)],
            [(d, leave.MEANING[d]) for d in ('zk', 'db', 'mc', 'tooz')]))
    lines.append('')

    def vs(profile_of):
        return lambda r: _ratio(r[summary]['median'],
                                medians.get(profile_of(r['name'])))
    lines.append(columns_table([
        ('profile', lambda r: r['label'] + (
            ' (granted %d ms)' % r['granted_timeout_ms']
            if r.get('granted_timeout_ms') else '')),
        (key + 's', summary + '.n'),
        ('min s', summary + '.min', _num),
        ('median s', summary + '.median', _num),
        ('p95 s', summary + '.p95', _num), ('max s', summary + '.max', _num),
        # Fast profiles against the fast db profile, the others against
        # the production one.
        ('median vs db (same class: fast or production)',
         vs(lambda name: 'db-fast' if name.endswith('-fast') else 'db')),
        ('median vs tooz', vs(lambda name: 'tooz')),
    ], ok))
    lines.append('')
    if key == 'term':
        lines.append('0.05 s is one poll interval: the reader saw the worker '
                     'gone at its first poll after the signal.')
    else:
        lines.append('Expected ranges: zk and tooz between 2/3 of the '
                     'session timeout (the client pinged a third of the '
                     'timeout before the kill) and the timeout plus one '
                     'tick; db and mc between service_down_time minus '
                     'report_interval and service_down_time (the time since '
                     'the last heartbeat counts), memcached rounding to '
                     'whole seconds.')
    lines.append('')
    return _end(lines, _anomalies(results, key), plot, title)


def _anomalies(results, key):
    anomalies = []
    for name in detection.ORDER:
        result = results.get(name)
        if result is None:
            continue
        if not _ok(result):
            if key == 'kill':
                anomalies.append(_failed('detection ' + name, result))
            continue
        if key == 'kill' and result.get('deadlock_restarts'):
            n = sum(result['deadlock_restarts'].values())
            anomalies.append(
                '* %s: %d of %d nova-compute starts hung before joining '
                '(greenlet.error "Cannot switch to a different thread": the '
                'zookeeper binding\'s completion thread blocked on cffi\'s '
                'green type-cache lock) and were restarted; see '
                'benchmarks/README.md' % (name, n, result.get('starts', 0)))
        if key == 'kill' and result.get('never_up'):
            anomalies.append('* %s: %d of %d workers never came up and are '
                             'left out: %s' % (
                                 name, len(result['never_up']),
                                 result['workers'] + len(result['never_up']),
                                 '; '.join('%s: %s' % i for i in sorted(
                                     result['never_up'].items()))))
        missed = [h for h, k in result.get('never_down', {}).items()
                  if k == key]
        if missed:
            anomalies.append('* %s: %d workers still up at the end: %s'
                             % (name, len(missed), ', '.join(missed[:5])))
        if key == 'kill' and result.get('false_down'):
            anomalies.append('* %s: %d workers seen down without a signal'
                             % (name, len(result['false_down'])))
        if key == 'kill' and result.get('unknown_answers'):
            anomalies.append('* %s: %d "unknown" answers '
                             '(ServiceGroupUnavailable)'
                             % (name, result['unknown_answers']))
    return anomalies


def _poll(results):
    for result in results.values():
        if _ok(result) and 'poll_interval' in result:
            return result['poll_interval']
    return 0.05


def load_section(results, plot):
    lines = ['## 3. Backend load of idle workers', '',
             'Writes per second on each backend while N workers are up and '
             'idle (%s s window after a report_interval of settling; no '
             'reader). db: heartbeat UPDATEs from SUM(report_count); '
             'PostgreSQL also n_tup_upd from pg_stat_user_tables; ZooKeeper: '
             'zxid delta (transactions) and all requests '
             '(zk_packets_received: pings and reads); memcached: cmd_set. '
             'report_interval 10 s, service_down_time 60 s, zk recv_timeout '
             '4000 ms (tickTime 2000), tooz timeout=4; memcached runs '
             'with -c 4096 because the mc driver holds one connection per '
             'worker and its default of 1024 is too few for 1,000 (see the '
             'connections in the notes). Simulated workers: '
             'nova.service.Service objects, up to 100 per process (zk: each '
             'with its own driver, hence its own ZooKeeper session); tooz: '
             'one coordinator (kazoo client, session) per worker, up to 100 '
             'per process.' % _window(results), '']
    ok, failures = _split(results, 'load')
    runs = []  # with db's writes/s and tooz's requests/s at their N
    for n in sorted(set(r['n'] for r in ok)):
        at_n = [r for r in ok if r['n'] == n]
        db = [r for r in at_n if r['driver'] == 'db' and r['db'] == 'sqlite']
        tooz = [r for r in at_n if r['driver'] == 'tooz']
        runs.extend(dict(r, db_rate=db[0]['writes_per_s'] if db else None,
                         tooz_rate=tooz[0].get('requests_per_s')
                         if tooz else None)
                    for r in sorted(at_n, key=_load_order))
    lines.append(columns_table([
        ('N', 'n'), ('driver (backend)', _load_label),
        ('write unit', 'write_unit'), ('writes/s', 'writes_per_s', _num),
        ('predicted', 'predicted_rate', _num),
        ('all requests/s', 'requests_per_s', _or_dash(_num)),
        ('backend CPU s/s', lambda r: 'in-process' if (
            r['driver'] == 'db' and r['db'] == 'sqlite')
         else _num(r.get('backend_cpu_per_s'), 3)),
        ('workers CPU s/s', 'hosts_cpu_per_s', _num3),
        ('writes vs db (SQLite)',
         lambda r: _ratio(r['writes_per_s'], r['db_rate'])),
        ('requests vs tooz', lambda r: _ratio(r['requests_per_s'],
                                              r['tooz_rate'])
         if 'requests_per_s' in r else '-'),
        ('notes', _load_notes),
    ], runs))
    lines.append('')
    lines.append('"predicted": N/report_interval for db and mc (the seed\'s '
                 'N/10), 0 for zk and tooz. "all requests/s" counts every '
                 'packet the ZooKeeper server received (pings after a third '
                 'of the session timeout of silence, tooz\'s heartbeat '
                 'reads).')
    lines.append('')
    return _end(lines, failures, plot, 'load')


def _load_notes(r):
    extra = ''
    if r.get('pg_n_tup_upd_per_s') is not None:
        extra = 'n_tup_upd %s/s, commits %s/s' % (
            _num(r['pg_n_tup_upd_per_s']), _num(r['pg_xact_commit_per_s']))
    if r['driver'] in ('zk', 'mc'):
        extra = 'DB UPDATEs %s/s' % _num(r.get('db_updates_per_s'))
    if r.get('connections') is not None:
        extra += '%sconnections %d' % (', ' if extra else '',
                                       r['connections'])
    if r.get('max_connections'):
        extra += ' (memcached -c %d, rejected %d)' % (
            r['max_connections'], r.get('rejected_connections', 0))
    return extra


def _window(results):
    for r in results.values():
        if _ok(r):
            return '%.0f' % r['window']
    return '?'


def _load_label(r):
    if r['driver'] == 'db':
        return 'db (%s)' % ('PostgreSQL' if r['db'] == 'pg' else 'SQLite')
    if r['driver'] == 'tooz':
        return 'tooz/kazoo (ZooKeeper)'
    if r['driver'] == 'zk':
        return 'zk (ZooKeeper)'
    return 'mc (memcached)'


def _load_order(r):
    return ['db', 'mc', 'zk', 'tooz'].index(r['driver']), r.get('db') or ''


def reads_section(results, plot):
    lines = ['## 4. Read cost', '',
             'N services up (%s); the reader is the benchmark process with '
             'the same nova.conf. `service_is_up` is timed call by call; a '
             '"scheduler pass" reads all rows (`db.service_get_all`) and '
             'asks `service_is_up` of each (tooz: one `get_members`); '
             '`nova-manage service list` is the wall time of the whole '
             'command (a new Python process), next to `nova-manage service '
             'list --host no-such-host` (the same start-up and query, no '
             'row to ask the driver about; for zk not even a session), '
             'medians of %s runs each. Those runs find the zk driver\'s '
             'members cache (`[zookeeper] members_cache_dir`) that the run '
             'before left, as an operator\'s second command does; "first '
             'list" is one run without it (zk reads every member node '
             'then).' % (_reads_n(results), _reads_runs(results)),
             '']
    ok, failures = _split(results, 'reads')
    runs = sorted(ok, key=lambda r: (r['n'], READS_DRIVERS.index(_kind(r))))
    by_name = dict((r['name'], r) for r in ok)

    def median(name, key):
        # of the same bench at the same N ('zk-10000' against 'db-10000')
        r = by_name.get(name)
        return r and (r.get(key) or {}).get('median')

    def vs(driver, key):
        return lambda r: _ratio(median(r['name'], key),
                                median(_peer(r['name'], driver), key))

    def listing(r):
        m, b = r.get('manage'), r.get('manage_baseline')
        return _num(m['median'] - b['median']) if m and b else '-'

    lines.append(columns_table([
        ('driver', _reads_label), ('N', 'n'),
        ('one service_is_up is', 'is_up_what'), ('calls', 'is_up.n'),
        ('median us', 'is_up.median', _us), ('p95 us', 'is_up.p95', _us),
        ('p99 us', 'is_up.p99', _us), ('max us', 'is_up.max', _us),
        ('median vs db', vs('db', 'is_up')),
        ('median vs tooz', vs('tooz', 'is_up')),
    ], runs))
    lines.append('')
    lines.append(columns_table([
        ('driver', _reads_label), ('scheduler pass', 'pass_what'),
        ('median ms', 'pass.median', _ms), ('p95 ms', 'pass.p95', _ms),
        ('pass vs db', vs('db', 'pass')),
        ('service list s', 'manage', _median_or_dash),
        ('empty list s', 'manage_baseline', _median_or_dash),
        ('listing part s', listing),
        ('rows listed', 'manage_listed_up_down',
         lambda c: '%d up, %d down' % tuple(c) if c else '-'),
        ('service list vs db', lambda r: vs('db', 'manage')(r)
         if r.get('manage') else '-'),
        ('first list s', 'manage_first', _or_dash(_num)),
        ('first vs db', lambda r: _ratio(
            r.get('manage_first'),
            (by_name.get(_peer(r['name'], 'db')) or {}).get('manage_first'))
         if r.get('manage_first') else '-'),
    ], runs))
    lines.append('')
    said = ['%d members: %s us median, %s the db driver\'s, %s '
            'tooz/kazoo\'s' % (r['n'], _us(r['is_up']['median']),
                               vs('db', 'is_up')(r), vs('tooz', 'is_up')(r))
            for r in runs if r['name'].startswith('zk')]
    if said:
        lines.append(
            'The zk driver\'s `service_is_up` is a lookup in the set of '
            'live members that the monitor keeps watched (children whose '
            '`ephemeralOwner` is not 0, each asked about once when it '
            'appears): no copy, no network, the same cost at any group '
            'size. ' + '; '.join(said) + '.')
        lines.append('')
    return _end(lines, failures, plot, 'reads')


def _median_or_dash(summary):
    return _num(summary.get('median')) if summary else '-'


READS_DRIVERS = ['db', 'db-pg', 'mc', 'zk', 'tooz']


def _kind(r):
    """'db', 'db-pg', 'mc', 'zk' or 'tooz' of a read run."""
    return r['name'].split('-1')[0]


def _reads_label(r):
    return {'db': 'db (SQLite)', 'db-pg': 'db (PostgreSQL)',
            'mc': 'mc (memcached)', 'zk': 'zk (ZooKeeper)',
            'tooz': 'tooz/kazoo'}[_kind(r)]


def _reads_n(results):
    sizes = sorted(set(r['n'] for r in results.values() if _ok(r)))
    return ' and '.join('{:,}'.format(n) for n in sizes) or '?'


def _peer(name, driver):
    """The run of ``driver`` at the N of run ``name``."""
    head, sep, size = name.rpartition('-')
    if sep and size.isdigit() and len(size) > 3:
        return '%s-%s' % (driver, size)
    return driver


def _reads_runs(results):
    for r in results.values():
        if _ok(r) and r.get('manage'):
            return '%d' % r['manage']['n']
    return '?'


def scale_section(results, plot):
    lines = ['## 5. Scale: one group on one ZooKeeper', '']
    ok, failures = _split(results, 'scale')
    runs = [r for r in ok if not r.get('jute')]
    if runs:
        lines.append(
            'Members join with the zk driver (`ZooKeeperDriver.join`) from '
            'host processes of 500 (quick: 100) members. "session per '
            'member": each member has its own driver and ZooKeeper session '
            '(what one nova-compute process per host has); "shared '
            'session": the members of a process share one session. All '
            'hosts are told to join at once (at most 10 joins in flight per '
            'process) and run at nice 10, so that the ZooKeeper server and '
            'the reader (this process, its own session, a watched list) get '
            'the CPU first, as on separate machines. Join throughput is N '
            'over the time until the reader sees all N; memory is the RSS '
            'growth of the host processes (and of the ZooKeeper JVM, heap '
            '1 GB) from before the join to after it, over N. Then the '
            'members of whole processes leave at once (`driver.leave`, '
            'node deleted) and as many again are SIGKILLed (sessions '
            'expire); convergence is the time until the reader\'s view has '
            'the new size.')
        lines.append('')

        def idle_per_member(field):
            return lambda r: _us(r.get('idle', {}).get(field, 0) / r['n'])

        def at_once(field):
            return lambda r: '%d: %s' % (r['leave'], _num(r[field]))
        lines.append(columns_table([
            ('mode', 'mode', _mode),
            ('members', 'n'), ('sessions', 'sessions'),
            ('processes', 'processes'), ('join s', 'join_seconds', _num),
            ('joins/s', 'join_per_s', '%.0f'.__mod__),
            ('client RSS KiB/member', 'rss_per_member', _kib),
            ('ZK RSS KiB/member', 'zk_rss_per_member', _kib),
            ('idle client CPU us/s per member',
             idle_per_member('hosts_cpu_per_s')),
            ('idle ZK CPU us/s per member', idle_per_member('zk_cpu_per_s')),
            ('idle ZK requests/s', 'idle.zk_requests_per_s', _num1),
            ('leave at once: s', at_once('leave_seconds')),
            ('crash at once: s', at_once('crash_seconds')),
            ('join failures', lambda r: r.get('join_failures', 0)),
        ], runs))
        lines.append('')
        for r in runs:
            if r['mode'] == 'session' and r['n'] < 10000:
                idle = r.get('idle', {})
                per = (idle.get('hosts_cpu_per_s', 0) +
                       idle.get('zk_cpu_per_s', 0)) / r['n']
                lines.append(
                    'With a session per member, an idle member costs about '
                    '%.0f us of CPU per second on this machine (client '
                    'process and server together: the C client pings after '
                    'recv_timeout/3 and the server answers; evzookeeper '
                    'does nothing periodic for a connected session), so '
                    '10,000 '
                    'sessions would need about %.1f cores; this machine has '
                    '%d. An attempt with 10,000 sessions on it (while this '
                    'benchmark was written, not part of this run) overloaded '
                    'it: connections timed out, sessions expired and were '
                    'reopened in a loop. So the session-per-member mode '
                    'runs with %d members; the shared-session mode carries '
                    'the full count. On real deployments each nova-compute '
                    'has its own machine and only the server side (about '
                    '%.0f us/s per session here) adds up on the ensemble.'
                    % (per * 1e6, per * 10000, os.cpu_count(), r['n'],
                       idle.get('zk_cpu_per_s', 0) / r['n'] * 1e6))
                lines.append('')
    jute = [r for r in ok if r.get('jute')]
    if jute:
        j = jute[0]
        lines.append('### jute.maxbuffer and the size of a get_children '
                     'reply')
        lines.append('')
        lines.append(
            'ZooKeeper\'s `jute.maxbuffer` defaults to 0xfffff = %d bytes. '
            'A reply to getChildren is 16 bytes of header, 4 of vector '
            'length and 4 + len(name) per child; the Java client refuses a '
            'reply of jute.maxbuffer bytes or more, so a group holds at most '
            '(%d - 1 - 20) // (4 + L) members with names of L bytes for a '
            'Java reader:' % (j['maxbuffer'], j['maxbuffer']))
        lines.append('')
        lines.append(columns_table(
            [('name length L', 0), ('max children in one reply', 1)],
            sorted(j['limits'].items(), key=lambda i: int(i[0]))))
        lines.append('')
        lines.append('Tested with names of %d bytes (limit %d), members '
                     'added past it; each reader lists the group after each '
                     'step:' % (j['name_length'], j['max_children']))
        lines.append('')
        lines.append(columns_table([
            ('children', 'children'), ('reply bytes', 'reply_bytes'),
            ('zk driver (C client)', 'nova_zk_driver', _jute_cell),
            ('kazoo (tooz)', 'kazoo', _jute_cell),
            ('zkCli (Java client)', 'zkcli', _jute_cell)], j['steps']))
        lines.append('')
        lines.append(
            'The ZooKeeper %s server sends the reply whatever its size; the '
            'C client (this driver) and kazoo read it; the Java client drops '
            'the connection ("Packet len ... is out of range") and the '
            'command fails with ConnectionLoss. Host names of 13 characters '
            '(compute-00001) leave room for about %s members.'
            % (j.get('zookeeper_version', '').split('-')[0],
               '{:,}'.format(j['limits'].get('13', 0))))
        lines.append('')
    return _end(lines, failures, plot, 'scale')


def _mode(mode):
    return 'session per member' if mode == 'session' else 'shared session'


def _kib(size):
    return '%.1f' % (size / 1024.0)


def _jute_cell(outcome):
    if outcome.get('ok'):
        return 'ok, %d' % outcome['children']
    return 'error: %s' % outcome.get('error', '?')


def blocked_section(results, plot):
    lines = ['## 6. A blocked hub', '',
             'One member joins (session timeout 4000 ms, tickTime 2000 ms), '
             'then its process blocks the eventlet hub for 8 s: `sleep` is '
             'the unpatched time.sleep in a green thread (GIL released), '
             '`busy` a pure-Python loop (GIL held, handed over every 5 ms). '
             'A neutral reader (kazoo, real threads, another process) checks '
             'every 50 ms that the member\'s znode exists. tooz variants: '
             '`tooz-eventlet` = tooz with `handler=eventlet` (kazoo\'s '
             'SequentialEventletHandler) in a monkey-patched process; '
             '`tooz-green-threads` = kazoo\'s default threading handler in '
             'a monkey-patched process (its threads are green threads, as '
             'in an eventlet-based OpenStack service); `tooz-threads` = the '
             'threading handler without monkey patching (real threads).', '']
    runs, failures = _split(results, 'blocked hub',
                            key=lambda i: _blocked_key(i[0]))

    def yes(flag):
        return 'yes' if flag else 'no'
    lines.append(columns_table([
        ('implementation', 'impl'), ('block', 'block'),
        ('blocked s', 'blocked_for', _num1),
        ('member', 'member_lost', lambda lost: 'LOST' if lost else 'stayed'),
        ('gone at s (after block start)', 'gone_at', _or_dash(_num)),
        ('back at s', lambda r: _num(r['back_at'])
         if r['back_at'] is not None else
         ('never' if r['member_lost'] else '-')),
        ('new session', 'session_changed', yes),
        ('member at end', 'member_at_end', yes),
        ('client states seen', lambda r: ', '.join(
            '%s@%.1fs' % (s, t) for t, s in r.get('worker_states', []))
         or '-'),
    ], runs))
    lines.append('')
    return _end(lines, failures, plot, 'blocked hub')


def _blocked_key(name):
    impl, _sep, block = name.rpartition('-')
    order = ['nova-zk', 'tooz-eventlet', 'tooz-green-threads', 'tooz-threads']
    return (order.index(impl) if impl in order else 9, block)


# -- headline -----------------------------------------------------------------

def headline(results):
    out = []
    det = results.get('detection', {})
    for key, what in (('kill', 'crash detection'), ('term', 'graceful leave')):
        med = dict((k, v[key + '_summary'].get('median')) for k, v in
                   det.items() if _ok(v) and v.get(key + '_summary'))
        if med:
            out.append('* Median %s: ' % what + ', '.join(
                '%s %s s' % (k, _num(med[k])) for k in detection.ORDER
                if k in med) + '.')
    load = results.get('load', {})
    by_n = {}
    for r in load.values():
        if _ok(r):
            by_n.setdefault(r['n'], []).append(r)
    for n in sorted(by_n):
        out.append('* Writes/s with N=%d idle workers: ' % n + ', '.join(
            '%s %s' % (_load_label(r), _num(r['writes_per_s']))
            for r in sorted(by_n[n], key=_load_order)) + '.')
    for _name, r in sorted(results.get('scale', {}).items()):
        if _ok(r) and not r.get('jute'):
            out.append('* Scale (%s): %d members joined at %.0f/s; %.1f KiB '
                       'client RSS per member; %d leaving at once: reader '
                       'converged in %s s.'
                       % ('session per member' if r['mode'] == 'session'
                          else 'shared session', r['n'], r['join_per_s'],
                          r['rss_per_member'] / 1024.0, r['leave'],
                          _num(r['leave_seconds'])))
    blocked = results.get('blocked_hub', {})
    parts = []
    for name, r in sorted(blocked.items(), key=lambda i: _blocked_key(i[0])):
        if _ok(r):
            parts.append('%s/%s %s' % (r['impl'], r['block'],
                                       'LOST the member' if r['member_lost']
                                       else 'stayed'))
    if parts:
        out.append('* Hub blocked 8 s (timeout 4 s): ' + '; '.join(parts)
                   + '.')
    return '\n'.join(out)


# -- build --------------------------------------------------------------------

def build(data, out_dir):
    """Write results.md, results.json and the PNGs; return the Markdown."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, 'results.json'), 'w') as f:
        json.dump(data, f, indent=1, sort_keys=True, default=str)
    results = data.get('results', {})
    figures = {}
    try:
        from benchmarks import plots as plotting
        figures = plotting.make_all(results, out_dir)
    except Exception as e:  # a plot must not cost the tables
        figures = {}
        data.setdefault('notes', []).append('plots failed: %s' % e)
    m = data.get('machine', {})
    settings = data.get('settings', {})
    lines = ['# Benchmarks of the ServiceGroup drivers', '',
             'Generated by `%s` on %s (%s run, %.1f minutes). Every figure '
             'and plot below comes from this one run.'
             % (settings.get('command', 'benchmarks/run.py'),
                data.get('date', '?'), settings.get('mode', '?'),
                data.get('total_seconds', 0) / 60.0), '',
             '## Machine', '',
             columns_table([('', 0), ('', 1)], [
                 ['CPU', '%s, %s cores' % (m.get('cpu'), m.get('cores'))],
                 ['RAM', m.get('ram')], ['kernel', m.get('kernel')],
                 ['OS', m.get('os')], ['Python', m.get('python')],
                 ['ZooKeeper server', m.get('zookeeper_server')],
                 ['ZooKeeper C client (libzookeeper-mt2)',
                  m.get('zookeeper_c_client')],
                 ['Java', m.get('java')],
                 ['memcached', m.get('memcached')],
                 ['SQLite', m.get('sqlite')],
                 ['PostgreSQL', m.get('postgresql') or 'not run: %s'
                  % data.get('postgres_note', '?')],
                 ['eventlet / kazoo / tooz', '%s / %s / %s' % (
                     m.get('eventlet'), m.get('kazoo'), m.get('tooz'))],
                 ['SQLAlchemy / pg8000 / python-memcached', '%s / %s / %s' % (
                     m.get('SQLAlchemy'), m.get('pg8000'),
                     m.get('python-memcached'))]]), '',
             'All servers and workers run on this one machine, over '
             'loopback; the machine may be shared with other work, so '
             'absolute CPU figures are indicative.', '',
             '## How workers are simulated', '',
             '* Crash detection and leave: every worker is a real process, '
             '`python -m nova.cmd.compute` (db, mc, zk, via '
             'nova/tests/functional/cloud.py) or one tooz coordinator per '
             'process (tooz); signals are real.',
             '* Load, reads: `benchmarks/workerhost.py` runs up to 100 '
             '(reads: 500) `nova.service.Service` objects per process, each '
             'with its own services row, heartbeat timer (db, mc) and, for '
             'the zk load runs, its own ZooKeeperDriver and ZooKeeper '
             'session; tooz: one coordinator (kazoo client and session) per '
             'worker, up to 100 per process.',
             '* Scale: `benchmarks/scale.py` host processes of 500 (quick: '
             '100) members joined with `ZooKeeperDriver.join`, one session '
             'per member or one per process.',
             '* Blocked hub: one worker process per case.', '']
    if data.get('postgres_note'):
        lines += ['Note on PostgreSQL: %s' % data['postgres_note'], '']
    lines += ['## Headline', '', headline(results), '']
    det = results.get('detection', {})
    lines.append(detection_section(det, 'kill', '1. Crash detection',
                                   figures.get('detection')))
    lines.append(detection_section(det, 'term',
                                   '2. Graceful leave propagation',
                                   figures.get('leave')))
    for section, part in ((load_section, 'load'), (reads_section, 'reads'),
                          (scale_section, 'scale')):
        lines.append(section(results.get(part, {}), figures.get(part)))
    lines.append(blocked_section(results.get('blocked_hub', {}),
                                 figures.get('blocked')))
    notes = data.get('notes') or []
    if notes:
        lines += ['## Notes', ''] + ['* %s' % n for n in notes] + ['']
    lines += ['## Settings of this run', '', '```',
              json.dumps(settings, indent=1, sort_keys=True), '```', '']
    text = '\n'.join(lines)
    with open(os.path.join(out_dir, 'results.md'), 'w') as f:
        f.write(text)
    return text


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        '%Y-%m-%d %H:%M UTC')


if __name__ == '__main__':
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), '..', 'doc', 'benchmarks')
    with open(os.path.join(directory, 'results.json')) as f:
        print(build(json.load(f), directory))
