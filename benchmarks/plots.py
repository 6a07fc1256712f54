"""The PNG plots of the report (matplotlib, Agg backend).

Each function takes the results of one benchmark (from one run) and writes
one PNG; ``make_all`` returns {plot name: file name} for what it drew.
"""

from __future__ import print_function

import os
import random

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

from benchmarks import detection  # noqa: E402

COLORS = {'zk': '#1f77b4', 'db': '#d62728', 'mc': '#ff7f0e',
          'tooz': '#2ca02c', 'db-pg': '#9467bd'}


def _ok(r):
    return isinstance(r, dict) and 'error' not in r


def _save(fig, out_dir, name):
    path = os.path.join(out_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return name


def detection_plot(results, key, out_dir, name, title):
    profiles = [p for p in detection.ORDER
                if _ok(results.get(p)) and results[p].get(key)]
    if not profiles:
        return None
    fig, ax = plt.subplots(figsize=(9, 4.5))
    rng = random.Random(1)
    data = [results[p][key] for p in profiles]
    ax.boxplot(data, positions=range(len(profiles)), widths=0.5,
               showfliers=False)
    for i, p in enumerate(profiles):
        driver = results[p]['driver']
        xs = [i + rng.uniform(-0.18, 0.18) for _v in results[p][key]]
        ax.scatter(xs, results[p][key], s=12, alpha=0.7,
                   color=COLORS.get(driver, 'k'), zorder=3)
    ax.set_xticks(range(len(profiles)))
    ax.set_xticklabels([_short(results[p]) for p in profiles], fontsize=8)
    ax.set_yscale('log')
    plain = ticker.FuncFormatter(lambda v, _pos: '%g' % v)
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.tick_params(axis='y', which='minor', labelsize=7)
    ax.set_ylabel('seconds until the reader sees it gone (log)')
    ax.set_title(title)
    ax.grid(True, axis='y', which='both', alpha=0.3)
    return _save(fig, out_dir, name)


def _short(r):
    s = r['settings']
    if r['driver'] == 'zk':
        return 'zk\n%d ms / tick %d' % (s['recv_timeout'], s['tick_time'])
    if r['driver'] == 'tooz':
        return 'tooz/kazoo\ntimeout %d s' % s['timeout']
    return '%s\n%d s / %d s' % (r['driver'], s['report_interval'],
                                s['service_down_time'])


def load_plot(results, out_dir):
    runs = [r for r in results.values() if _ok(r)]
    if not runs:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    series = {}
    for r in runs:
        key = 'db-pg' if r['driver'] == 'db' and r['db'] == 'pg' \
            else r['driver']
        series.setdefault(key, []).append(r)
    labels = {'db': 'db (SQLite) UPDATEs', 'db-pg': 'db (PostgreSQL) '
              'UPDATEs', 'mc': 'mc sets', 'zk': 'zk transactions',
              'tooz': 'tooz/kazoo transactions'}
    ns = sorted(set(r['n'] for r in runs))
    for key, rs in sorted(series.items()):
        rs.sort(key=lambda r: r['n'])
        ax1.plot([r['n'] for r in rs], [r['writes_per_s'] or 0 for r in rs],
                 marker='o', label=labels.get(key, key),
                 color=COLORS.get(key), linestyle='--' if key == 'db-pg'
                 else '-')
        if key in ('zk', 'tooz'):
            ax2.plot([r['n'] for r in rs],
                     [r.get('requests_per_s') or 0 for r in rs], marker='o',
                     label=key + ' all requests', color=COLORS.get(key))
        if all(r.get('backend_cpu_per_s') is None for r in rs):
            continue  # SQLite: no server process
        ax2.plot([r['n'] for r in rs],
                 [r.get('backend_cpu_per_s') or 0 for r in rs], marker='x',
                 linestyle=':', color=COLORS.get(key),
                 label=key + ' server CPU s/s')
    interval = runs[0].get('report_interval', 10)
    ax1.plot(ns, [n / float(interval) for n in ns], color='gray',
             linestyle=':', label='N / report_interval')
    ax1.set_xscale('log')
    ax1.set_yscale('symlog', linthresh=0.1)
    ax1.set_xlabel('idle workers N')
    ax1.set_ylabel('writes per second (symlog)')
    ax1.set_title('Backend writes of idle workers')
    ax1.legend(fontsize=7)
    ax1.grid(True, alpha=0.3)
    ax1.set_ylim(bottom=0)
    ax2.set_xscale('log')
    ax2.set_yscale('symlog', linthresh=0.01)
    ax2.set_ylim(bottom=0)
    ax2.set_xlabel('idle workers N')
    ax2.set_title('ZooKeeper requests/s (dots); server CPU seconds/s '
                  '(crosses)', fontsize=9)
    ax2.legend(fontsize=7)
    ax2.grid(True, alpha=0.3)
    return _save(fig, out_dir, 'load.png')


def reads_plot(results, out_dir):
    drivers = ['db', 'db-pg', 'mc', 'zk', 'tooz']
    # by N, then driver ('zk-10000' is zk at N = 10,000)
    order = sorted((k for k in results if _ok(results[k])),
                   key=lambda k: (results[k]['n'],
                                  drivers.index(k.split('-1')[0])))
    if not order:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    stats = []
    for k in order:
        s = results[k]['is_up']
        label = '%s\n%d' % (k.split('-1')[0], results[k]['n'])
        stats.append({'label': label, 'med': s['median'] * 1e6,
                      'q1': s['min'] * 1e6, 'q3': s['p95'] * 1e6,
                      'whislo': s['min'] * 1e6, 'whishi': s['p99'] * 1e6,
                      'fliers': [s['max'] * 1e6]})
    ax1.bxp(stats, showfliers=True)
    ax1.set_yscale('log')
    ax1.set_ylabel('microseconds (log)')
    ax1.set_title('one service_is_up (box: min-p95, whisker p99, dot max)',
                  fontsize=9)
    ax1.grid(True, axis='y', which='both', alpha=0.3)
    manage = [k for k in order if results[k].get('manage')]
    xs = range(len(manage))
    ax2.bar([x - 0.2 for x in xs],
            [results[k]['manage']['median'] for k in manage], width=0.4,
            label='nova-manage service list',
            color=[COLORS.get(k.split('-1')[0]) for k in manage])
    ax2.bar([x + 0.2 for x in xs],
            [results[k]['manage_baseline']['median'] for k in manage],
            width=0.4, label='service list --host no-such-host (start-up)',
            color='lightgray')
    ax2.set_xticks(list(xs))
    ax2.set_xticklabels(['%s\n%d' % (k.split('-1')[0], results[k]['n'])
                         for k in manage])
    ax2.set_ylabel('seconds (median)')
    ax2.set_title('nova-manage service list (N services)')
    ax2.legend(fontsize=8)
    return _save(fig, out_dir, 'reads.png')


def scale_plot(results, out_dir):
    runs = [r for r in results.values() if _ok(r) and not r.get('jute')]
    if not runs:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    for r in runs:
        label = 'session per member' if r['mode'] == 'session' \
            else 'shared session'
        for ax, key in zip(axes, ('timeline_join', 'timeline_leave',
                                  'timeline_crash')):
            points = [(t, n) for t, n in r.get(key, []) if n is not None]
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points],
                        label='%s (N=%d)' % (label, r['n']))
    axes[0].set_title('join: members the reader sees')
    axes[1].set_title('leave at once (node deleted)')
    axes[2].set_title('crash at once (SIGKILL, session expiry)')
    for ax in axes:
        ax.set_xlabel('seconds')
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel('members in the reader\'s view')
    return _save(fig, out_dir, 'scale.png')


def blocked_plot(results, out_dir):
    runs = [(k, r) for k, r in sorted(results.items()) if _ok(r)]
    if not runs:
        return None
    fig, ax = plt.subplots(figsize=(10, 0.6 * len(runs) + 1.5))
    for i, (name, r) in enumerate(runs):
        timeline = r.get('timeline', [])
        for (t0, p), (t1, _p) in zip(timeline, timeline[1:]):
            color = '#2ca02c' if p else ('#d62728' if p is False else 'gray')
            ax.plot([t0, t1], [i, i], color=color, linewidth=8,
                    solid_capstyle='butt')
    ax.axvspan(0, runs[0][1].get('seconds', 8), color='orange', alpha=0.15,
               label='hub blocked')
    ax.set_yticks(range(len(runs)))
    ax.set_yticklabels(['%s / %s' % (r['impl'], r['block'])
                        for _n, r in runs], fontsize=8)
    ax.set_xlabel('seconds after the block started (green: member node '
                  'present, red: gone)')
    ax.set_title('Member presence as a neutral reader sees it '
                 '(session timeout 4 s)')
    ax.legend(fontsize=8, loc='lower right')
    ax.grid(True, axis='x', alpha=0.3)
    return _save(fig, out_dir, 'blocked_hub.png')


def make_all(results, out_dir):
    figures = {}
    det = results.get('detection', {})
    figures['detection'] = detection_plot(
        det, 'kill', out_dir, 'detection.png',
        'Crash detection: SIGKILL to down, per profile')
    figures['leave'] = detection_plot(
        det, 'term', out_dir, 'leave.png',
        'Graceful leave: SIGTERM to gone, per profile')
    figures['load'] = load_plot(results.get('load', {}), out_dir)
    figures['reads'] = reads_plot(results.get('reads', {}), out_dir)
    figures['scale'] = scale_plot(results.get('scale', {}), out_dir)
    figures['blocked'] = blocked_plot(results.get('blocked_hub', {}),
                                      out_dir)
    return dict((k, v) for k, v in figures.items() if v)
