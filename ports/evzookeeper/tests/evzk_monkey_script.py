"""evzookeeper under eventlet.monkey_patch(), run in a process of its own.

usage: evzk_monkey_script.py ADDRESS first|last

"first": monkey_patch() before anything is imported (what nova's commands
do); "last": zookeeper and evzookeeper are imported, then everything is
patched.  Exits 0 and prints OK when every check passed.
"""

import sys

ORDER = sys.argv[2]
if ORDER == 'first':
    import eventlet
    eventlet.monkey_patch()

import os  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import eventlet  # noqa: E402
import zookeeper  # noqa: E402,F401  (imported before patching)

import evzookeeper  # noqa: E402
from evzookeeper import membership  # noqa: E402

if ORDER == 'last':
    eventlet.monkey_patch()

from eventlet import patcher  # noqa: E402

ADDRESS = sys.argv[1]
RECV_TIMEOUT = 1000


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError('timed out waiting for ' + what)
        time.sleep(0.02)  # green: patched


def tasks():
    return len(os.listdir('/proc/self/task'))


def fds():
    return len(os.listdir('/proc/self/fd'))


def session(**kwargs):
    return evzookeeper.ZKSession(ADDRESS, timeout=10,
                                 recv_timeout=RECV_TIMEOUT, **kwargs)


def expire(victim):
    old = victim.client_id()[0]
    for _attempt in range(20):
        session(ident=victim.client_id()).close()
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            if victim.client_id()[0] != old:
                return
            time.sleep(0.05)
    raise AssertionError('could not expire the session')


def main():
    check(patcher.is_monkey_patched('thread'), 'threads are patched')
    check(patcher.is_monkey_patched('time'), 'time is patched')
    # warm-up (the C client's log stream and the hub's own descriptors)
    session().close()
    time.sleep(0.3)  # an OS thread lingers in /proc a moment after join()
    base_tasks, base_fds = tasks(), fds()

    gaps = []
    running = [True]

    def ticker():
        last = time.monotonic()
        while running[0]:
            time.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    tick_thread = eventlet.spawn(ticker)
    base = '/evzk-monkey-%s-%d' % (ORDER, os.getpid())
    worker = session()
    observer = session()
    worker.create(base, b'')

    # calls from green threads (and from a patched threading.Thread, which
    # is a green thread too) while the ticker runs
    def batch(n):
        for i in range(10):
            path = worker.create('%s/n%d-%d' % (base, n, i), b'x')
            check(worker.get(path)[0] == b'x', 'data')
            worker.delete(path)

    workers = [threading.Thread(target=batch, args=(n,)) for n in range(4)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    check(max(gaps) < 0.1, 'hub blocked for %.3f s' % max(gaps))

    seen = []
    monitor = membership.MembershipMonitor(observer, base + '/group',
                                           cb_func=seen.append)
    member = membership.Membership(worker, base + '/group', 'w1')
    wait_for(lambda: monitor.get_all() == {'w1'}, 5, 'w1 joined')
    try:
        membership.Membership(observer, base + '/group', 'w1')
        raise AssertionError('duplicate name accepted')
    except RuntimeError:
        pass

    expire(worker)
    wait_for(lambda: worker.is_connected(), 10, 'new session')
    wait_for(lambda: monitor.get_all() == {'w1'}, 10, 'w1 re-created')
    _value, stat = observer.get(member.path)
    check(stat['ephemeralOwner'] == worker.client_id()[0], 'owner')
    member.leave()
    wait_for(lambda: monitor.get_all() == set(), 5, 'w1 left')
    check(set() in seen and {'w1'} in seen, 'callbacks %r' % seen)
    check(max(gaps) < 0.1, 'hub blocked for %.3f s' % max(gaps))

    monitor.stop()
    worker.close()
    observer.close()
    running[0] = False
    tick_thread.wait()
    deadline = time.monotonic() + 3
    while tasks() != base_tasks and time.monotonic() < deadline:
        time.sleep(0.05)
    check(tasks() == base_tasks, 'threads %d -> %d' % (base_tasks, tasks()))
    check(fds() == base_fds, 'descriptors %d -> %d' % (base_fds, fds()))
    print('OK')


if __name__ == '__main__':
    main()
