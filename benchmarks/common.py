"""What every benchmark shares: paths, child processes, statistics, jobs.

Each benchmark is a *job*: ``python -m benchmarks.<module> [args] --out F``
runs in a process of its own (so that nova's global configuration, the
servicegroup driver singleton and eventlet's monkey patching of one job do
not leak into the next) and writes its figures to the JSON file F.
``benchmarks/run.py`` starts the jobs and turns their files into the report.
"""

from __future__ import print_function

import argparse
import atexit
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
PYTHONPATH = [ROOT, os.path.join(ROOT, 'ports', 'zookeeper'),
              os.path.join(ROOT, 'ports', 'evzookeeper')]

for _path in reversed(PYTHONPATH):
    if _path not in sys.path:
        sys.path.insert(0, _path)


def env(extra=None):
    """The environment of a child process: this tree on PYTHONPATH."""
    result = dict(os.environ)
    paths = list(PYTHONPATH)
    if result.get('PYTHONPATH'):
        paths.append(result['PYTHONPATH'])
    result['PYTHONPATH'] = os.pathsep.join(paths)
    # eventlet's and tooz's deprecation warnings would fill the logs.
    result.setdefault('PYTHONWARNINGS', 'ignore')
    # Byte-compiled, as an installed nova runs: without it each new process
    # (every nova-manage run) compiles every module of this tree again, and
    # a driver is charged for the size of its source.  The caches go to a
    # folder of their own, not into the checkout.
    result.pop('PYTHONDONTWRITEBYTECODE', None)
    result.setdefault('PYTHONPYCACHEPREFIX',
                      os.path.join(tempfile.gettempdir(),
                                   'nova-bench-pycache'))
    result.update(extra or {})
    return result


def module_cmd(module, *args):
    return [sys.executable, '-m', module] + [str(a) for a in args]


def monkey_patch():
    """Green the standard library as nova's binaries do (os stays)."""
    import eventlet
    eventlet.monkey_patch(os=False)


def fix_cffi_lock():
    """Work around a deadlock of the zookeeper binding under eventlet.

    cffi's ``FFI`` object parses a C type string the first time it is used
    under ``FFI._lock``, made with ``_thread.allocate_lock`` - a GREEN lock
    when cffi is imported after ``eventlet.monkey_patch()`` (as in every
    nova binary).  The binding calls ``ffi.cast('uintptr_t', ...)`` in its
    dispatcher on the C client's completion threads; when one of them meets
    that lock held (the hub thread parsing another type at the same moment,
    typically while several sessions start), it waits on a green lock from
    a foreign thread: "greenlet.error: Cannot switch to a different thread"
    and that session's callbacks stop for good.  Seen in about one start
    out of ten of a process opening five sessions at once.

    The harness gives the binding's FFI a real lock before any session
    starts.  Returns True when it replaced a green lock.
    """
    try:
        from zookeeper import _ffi
    except ImportError:
        return False
    from eventlet import patcher
    real_lock = patcher.original('_thread').allocate_lock
    ffi = getattr(_ffi, 'ffi', None)
    lock = getattr(ffi, '_lock', None)
    if lock is None or type(lock) is type(real_lock()):
        return False
    ffi._lock = real_lock()
    return True


def load_nova_conf(conf_path, extra_args=()):
    """Parse a nova.conf into nova's global CONF, as a nova command does.

    Every module that registers options is imported first (oslo.config
    refuses command-line options registered after the parse).  Then the
    zookeeper binding gets the fix of fix_cffi_lock().
    """
    import importlib
    for name in ('nova.openstack.common.log', 'nova.service',
                 'nova.servicegroup', 'nova.servicegroup.drivers.db',
                 'nova.servicegroup.drivers.mc',
                 'nova.servicegroup.drivers.zk', 'nova.db',
                 'nova.db.sqlalchemy.session', 'nova.db.sqlalchemy.api',
                 'nova.context'):
        importlib.import_module(name)
    from nova import config
    config.parse_args(['benchmark', '--config-file', conf_path] +
                      list(extra_args))
    fix_cffi_lock()


# -- child processes ----------------------------------------------------------

class Children(object):
    """The processes this process started; all SIGKILLed at exit."""

    def __init__(self):
        self.procs = []
        atexit.register(self.kill_all)

    def popen(self, cmd, log_path=None, stdin=None, stdout=None, **kwargs):
        log = None
        if log_path is not None and stdout is None:
            log = open(log_path, 'ab')
            stdout = log
        kwargs.setdefault('env', env())
        kwargs.setdefault('stderr', subprocess.STDOUT if log else None)
        try:
            proc = subprocess.Popen(cmd, stdin=stdin, stdout=stdout, **kwargs)
        finally:
            if log is not None:
                log.close()
        self.procs.append(proc)
        return proc

    def kill_all(self):
        for proc in self.procs:
            kill(proc)
        self.procs = []


CHILDREN = Children()


def kill(proc, sig=signal.SIGKILL):
    """Signal one child we started (by its pid) and reap it."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, sig)
    except OSError:
        pass
    if sig == signal.SIGKILL:
        try:
            proc.wait()
        except Exception:
            pass


def stop(proc, timeout=10.0):
    """SIGTERM, then SIGKILL after ``timeout`` seconds."""
    if proc is None or proc.poll() is not None:
        return
    kill(proc, signal.SIGTERM)
    deadline = time.time() + timeout
    while proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    kill(proc)


def read_line(proc, prefix, timeout, log_path=None):
    """Read ``proc.stdout`` lines until one starts with ``prefix``.

    Returns the rest of that line (stripped).  RuntimeError on timeout or
    when the process ends first.  Lines are read with a deadline by polling
    a non-blocking pipe, so that it works with and without eventlet.
    """
    import select
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    buf = getattr(proc, '_bench_buf', b'')
    deadline = time.time() + timeout
    while True:
        while b'\n' in buf:
            line, buf = buf.split(b'\n', 1)
            text = line.decode('utf-8', 'replace')
            if text.startswith(prefix):
                proc._bench_buf = buf
                return text[len(prefix):].strip()
        left = deadline - time.time()
        if left <= 0:
            break
        try:
            ready, _w, _x = select.select([fd], [], [], min(left, 0.5))
        except InterruptedError:
            continue
        if ready:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not data:
                proc.wait()
                break
            buf += data
        elif proc.poll() is not None:
            break
    proc._bench_buf = buf
    tail = ''
    if log_path and os.path.exists(log_path):
        with open(log_path, 'rb') as f:
            tail = f.read()[-2000:].decode('utf-8', 'replace')
    raise RuntimeError('no %r from pid %d within %.0fs (exit %s)\n%s%s'
                       % (prefix, proc.pid, timeout, proc.poll(),
                          buf[-2000:].decode('utf-8', 'replace'), tail))


def start_hosts(argv, n, workdir, per_process, tag, first=0,
                ready='READY', timeout=600, err_suffix='', **popen):
    """Start ceil(n / per_process) host processes of members ``first`` ..
    ``first + n - 1``; unless ``ready`` is None, wait until each has
    printed that word.

    ``argv(first, count, log_path)`` is the command line of one host; its
    stderr goes to log_path + err_suffix (``proc.log_path``).  Returns the
    Popen objects, stdout piped.
    """
    procs = []
    for index, start in enumerate(range(first, first + n, per_process)):
        log_path = os.path.join(workdir, '%s-%d.log' % (tag, index))
        with open(log_path + err_suffix, 'ab') as err:
            proc = CHILDREN.popen(
                argv(start, min(per_process, first + n - start), log_path),
                stdout=subprocess.PIPE, stderr=err, **popen)
        proc.log_path = log_path + err_suffix
        procs.append(proc)
    for proc in procs if ready else ():
        read_line(proc, ready, timeout, proc.log_path)
    return procs


def stop_hosts(procs, timeout=60):
    """SIGTERM to all, then SIGKILL to those still there after timeout."""
    for proc in procs:
        kill(proc, signal.SIGTERM)
    deadline = time.time() + timeout
    for proc in procs:
        while proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        kill(proc)


def cleanup(*servers):
    """cleanup() each server (once) that is not None, whatever the others
    do."""
    for i, server in enumerate(servers):
        if server is not None and server not in servers[:i]:
            try:
                server.cleanup()
            except Exception:
                pass


def wait_for_term(interval, sleep=None):
    """Return once SIGTERM or SIGINT came (a host's way to be stopped),
    looking every ``interval`` seconds with ``sleep`` (time.sleep)."""
    stopping = []
    signal.signal(signal.SIGTERM, lambda *a: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *a: stopping.append(True))
    while not stopping:
        (sleep or time.sleep)(interval)


def send_line(proc, text):
    proc.stdin.write((text + '\n').encode('utf-8'))
    proc.stdin.flush()


def rss(pid):
    """Resident set size of a process in bytes (None if gone)."""
    import psutil
    try:
        return psutil.Process(pid).memory_info().rss
    except Exception:
        return None


def cpu_seconds(pid, children=False):
    """User + system CPU seconds of a process so far (None if gone)."""
    import psutil
    try:
        times = psutil.Process(pid).cpu_times()
    except Exception:
        return None
    total = times.user + times.system
    if children:
        total += times.children_user + times.children_system
    return total


# -- statistics ---------------------------------------------------------------

def percentile(sorted_values, q):
    """The q-th percentile (0..100) by linear interpolation."""
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (
        pos - lo)


def summary(values):
    """n, min, median, p95, p99, max and mean of a list of numbers."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return {'n': 0}
    return {'n': len(values), 'min': values[0],
            'median': percentile(values, 50), 'p95': percentile(values, 95),
            'p99': percentile(values, 99), 'max': values[-1],
            'mean': sum(values) / len(values)}


# -- jobs ---------------------------------------------------------------------

def write_json(path, obj):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=1, sort_keys=True, default=str)
    os.rename(tmp, path)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def job_main(description, add_args, run, patch=None):
    """The command line of a job: parse, run, write the JSON result.

    ``patch(args)`` says whether to monkey-patch with eventlet before
    ``run(args)`` imports nova; the result dict gets the job's wall time.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--out', required=True,
                        help='where to write the JSON result')
    parser.add_argument('--workdir', default=None,
                        help='scratch directory (logs, databases)')
    add_args(parser)
    args = parser.parse_args()
    if patch is not None and patch(args):
        monkey_patch()
    if args.workdir is None:
        import tempfile
        args.workdir = tempfile.mkdtemp(prefix='nova-bench-')
    os.makedirs(args.workdir, exist_ok=True)
    # SIGTERM from run.py (a job over its time): clean up the children.
    # Only the first one raises, so that a second cannot cut the cleanup.

    def on_term(*_args):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sys.exit(3)
    signal.signal(signal.SIGTERM, on_term)
    started = time.time()
    try:
        result = run(args)
        result['wall_seconds'] = time.time() - started
        write_json(args.out, result)
        return 0
    except BaseException:
        write_json(args.out, {'error': traceback.format_exc(),
                              'wall_seconds': time.time() - started})
        traceback.print_exc()
        return 1
    finally:
        CHILDREN.kill_all()


def log(*parts):
    """Progress on stderr, with the time (run.py keeps it in a log)."""
    print(time.strftime('%H:%M:%S'), *parts, file=sys.stderr)
    sys.stderr.flush()
