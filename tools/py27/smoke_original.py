#!/usr/bin/env python2.7
# vim: tabstop=4 shiftwidth=4 softtabstop=4
"""Smoke test of the ORIGINAL stack (zkpython + evzookeeper 0.4.0 + eventlet)
against a real ZooKeeper server.

Run it with the Python 2.7 virtualenv built by tools/py27/build_venv.sh:

    .venv27/bin/python tools/py27/smoke_original.py 127.0.0.1:2181 \
        [--zk-pid PID] [--expiry MODE[,MODE...]] [--allow-no-rejoin]

What it checks, printing one line per observation:

 1. ZKSession(address, recv_timeout=4000, zklog_fd=/dev/null) +
    Membership(session, '/servicegroups/compute', 'hostA') joins, and a
    MembershipMonitor on a second session sees 'hostA';
 2. Membership.leave() -> the monitor no longer lists 'hostA';
 3. a child process joins as 'hostKilled' and is SIGKILLed: the monitor
    drops it once ZooKeeper expires the child's session (about recv_timeout);
 4. open file descriptors before/after 400 synchronous evzookeeper calls;
 5. session expiry of a member running in a child process, one run per MODE:
      member-sigstop  the member process is SIGSTOPped past the session
                      timeout (a frozen worker), then SIGCONTed;
      server-sigstop  the ZooKeeper server (--zk-pid) is SIGSTOPped past the
                      session timeout, then SIGCONTed; whether the server
                      expires the session or the client's pending reconnect
                      revives it is a race, reported as 'not-expired';
      hijack          the member is stopped, a second handle opened with its
                      session id and password is closed (the server closes
                      the session at once), the member is resumed.
    For each it reports the session events the zkpython session watcher
    delivered in the member, whether evzookeeper reconnected and whether
    Membership re-created its ephemeral node under the new session.
    Default modes: member-sigstop,hijack (+ server-sigstop with --zk-pid).
 6. with --zk-pid (unless --no-blip): two 3 s server pauses, a connection
    loss that the session normally survives; reports whether a
    MembershipMonitor recovers and how many monitor callbacks one child
    change causes afterwards.

Exit status: 0 when 1-4 pass and (unless --allow-no-rejoin) every member
whose session expired re-joined and the monitor recovered from the
connection losses; 1 on a failed check; 2 on bad usage.

The ZooKeeper address must be on this machine (loopback): the script sends
traffic nowhere else.
"""

from __future__ import print_function

import argparse
import gc
import logging
import os
import signal
import sys
import time

import eventlet
if '--monkey-patch' in sys.argv:
    # as nova/cmd/*.py of Grizzly do
    eventlet.monkey_patch(os=False)
from eventlet.green import subprocess

import zookeeper
import evzookeeper
from evzookeeper import membership
from evzookeeper import utils as evutils

PREFIX_DEFAULT = '/servicegroups/compute'
RECV_TIMEOUT = 4000  # ms, nova's [zookeeper] recv_timeout default

STATE_NAMES = {
    zookeeper.CONNECTED_STATE: 'CONNECTED',
    zookeeper.CONNECTING_STATE: 'CONNECTING',
    zookeeper.ASSOCIATING_STATE: 'ASSOCIATING',
    zookeeper.EXPIRED_SESSION_STATE: 'EXPIRED_SESSION',
    zookeeper.AUTH_FAILED_STATE: 'AUTH_FAILED',
    0: 'CLOSED/0',
}
EVENT_NAMES = {
    zookeeper.SESSION_EVENT: 'SESSION',
    zookeeper.CHILD_EVENT: 'CHILD',
    zookeeper.CREATED_EVENT: 'CREATED',
    zookeeper.DELETED_EVENT: 'DELETED',
    zookeeper.CHANGED_EVENT: 'CHANGED',
    zookeeper.NOTWATCHING_EVENT: 'NOTWATCHING',
}

T0 = time.time()
FAILURES = []


def say(msg, *args):
    if args:
        msg = msg % args
    print('[%6.2fs] %s' % (time.time() - T0, msg))
    sys.stdout.flush()


def check(ok, what):
    say('%s: %s', 'OK  ' if ok else 'FAIL', what)
    if not ok:
        FAILURES.append(what)
    return ok


def open_fds():
    try:
        return len(os.listdir('/proc/self/fd'))
    except OSError:
        return -1


def wait_until(pred, timeout, step=0.05):
    """Poll pred() in the green hub; return seconds waited or None."""
    start = time.time()
    while True:
        if pred():
            return time.time() - start
        if time.time() - start > timeout:
            return None
        eventlet.sleep(step)


def zkpython_version():
    try:
        import pkg_resources
        return pkg_resources.get_distribution('zkpython').version
    except Exception:
        return 'unknown'


def new_session(address, null):
    return evzookeeper.ZKSession(address, recv_timeout=RECV_TIMEOUT,
                                 zklog_fd=null)


def join(session, prefix, name, retry_for=8.0):
    """Membership(...) with a retry while a stale node of a previous run
    (an old session not expired yet) still holds the name."""
    deadline = time.time() + retry_for
    while True:
        try:
            return membership.Membership(session, prefix, name)
        except RuntimeError as e:
            if time.time() > deadline:
                raise
            say('join %s: %s; retrying', name, e)
            eventlet.sleep(1.0)


class EventRecorder(object):
    """Records every session event the zkpython session watcher delivers
    to evzookeeper (through ZKSession.add_connection_callback)."""

    def __init__(self, session):
        self.events = []
        self._spc = evutils.StatePipeCondition()
        session.add_connection_callback(self._spc)
        eventlet.spawn(self._run)

    def _run(self):
        while True:
            try:
                handle, event, state, path = self._spc.wait_and_get()
            except evutils.PipeConditionClosedError:
                return
            self.events.append((round(time.time() - T0, 2), handle,
                                EVENT_NAMES.get(event, event),
                                STATE_NAMES.get(state, state)))


def child_main(address, prefix, name):
    """A member in its own process. Prints one line per observation:
    JOINED <name> <session id> <password hex>, EVENT <t> <event> <state>
    for every session event the zkpython session watcher delivers,
    STATE <t> <handle state> <session id> whenever the handle state changes.
    """
    null = open(os.devnull, 'w')
    session = new_session(address, null)

    def emit(line):
        print(line)
        sys.stdout.flush()

    spc = evutils.StatePipeCondition()
    session.add_connection_callback(spc)

    def events():
        while True:
            handle, event, state, path = spc.wait_and_get()
            emit('EVENT %.2f %s %s' % (time.time() - T0,
                                       EVENT_NAMES.get(event, event),
                                       STATE_NAMES.get(state, state)))
    eventlet.spawn(events)
    ensure_parents(session, prefix)
    m = join(session, prefix, name)
    sid, passwd = session.client_id()
    emit('JOINED %s %d %s' % (name, sid, passwd.encode('hex')))
    last = None
    while True:
        try:
            cur = (STATE_NAMES.get(session.state(), session.state()),
                   session.client_id()[0])
        except Exception as e:
            cur = ('error:%s' % e.__class__.__name__, 0)
        if cur != last:
            emit('STATE %.2f %s 0x%x fds=%d' % (time.time() - T0, cur[0],
                                                cur[1], open_fds()))
            last = cur
        eventlet.sleep(0.1)
    return m


def ensure_parents(session, path):
    """Create the ancestors of path (Membership creates only path itself;
    the Grizzly driver created sg_prefix in its constructor)."""
    parts = path.strip('/').split('/')[:-1]
    for i in range(len(parts)):
        p = '/' + '/'.join(parts[:i + 1])
        try:
            session.create(p, '', [evzookeeper.ZOO_OPEN_ACL_UNSAFE])
        except zookeeper.NodeExistsException:
            pass


def node_owner(session, path):
    try:
        _data, stat = session.get(path)
        return stat['ephemeralOwner']
    except zookeeper.NoNodeException:
        return None
    except zookeeper.ZooKeeperException as e:
        say('get(%s) failed: %s: %s', path, e.__class__.__name__, e)
        return None


class Child(object):
    """A member process (this script with --child) and the lines it prints."""

    def __init__(self, address, prefix, name):
        self.name = name
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), address,
             '--prefix', prefix, '--child', name, '--t0', repr(T0)] +
            (['--monkey-patch'] if '--monkey-patch' in sys.argv else []),
            stdout=subprocess.PIPE, close_fds=True)
        self.joined = None
        eventlet.spawn(self._reader)

    def _reader(self):
        while True:
            line = self.proc.stdout.readline()
            if not line:
                return
            line = line.strip()
            self.lines.append(line)
            if line.startswith('JOINED '):
                _, _name, sid, pw = line.split()
                self.joined = (int(sid), pw.decode('hex'))

    def wait_joined(self, timeout=15):
        wait_until(lambda: self.joined is not None, timeout)
        return self.joined

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def expire_by_hijack(address, client_id):
    """Open a second handle on the same session and close it: the server
    closes (expires) the session, the first handle learns it on its next
    reconnect. Uses the raw zkpython API."""
    pc = evutils.StatePipeCondition()

    def watcher(handle, event, state, path):
        if state == zookeeper.CONNECTED_STATE:
            pc.set_and_notify(state)
    h = zookeeper.init(address, watcher, RECV_TIMEOUT, client_id)
    try:
        pc.wait_and_get(timeout=10)
    finally:
        zookeeper.close(h)
        pc.close()


def expiry_check(args, mode, monitor, mon_rec, null):
    """Step 5 for one way of expiring the member's session. Returns
    'rejoined', 'not-rejoined' or 'not-expired'."""
    prefix = args.prefix
    name = 'hostB-%s' % mode
    path = '%s/%s' % (prefix, name)
    say('--- expiry by %s: member %s in a child process', mode, name)
    child = Child(args.address, prefix, name)
    try:
        joined = child.wait_joined()
        if not check(joined is not None, '%s joined' % name):
            return 'not-rejoined'
        old_id = joined[0]
        wait_until(lambda: name in (monitor.get_all() or ()), 10)
        say('%s joined on session 0x%x; monitor sees it: %s', name, old_id,
            name in (monitor.get_all() or ()))
        n_lines = len(child.lines)
        n_mon = len(mon_rec.events)
        vanished = []

        def watch_vanish():
            # record when the monitor stops listing the member
            while not vanished:
                members = monitor.get_all()
                if members is not None and name not in members:
                    vanished.append(time.time())
                eventlet.sleep(0.05)
        watcher_gt = eventlet.spawn(watch_vanish)
        t0 = time.time()
        pause = args.pause or 2.5 * RECV_TIMEOUT / 1000.0
        if mode == 'member-sigstop':
            say('SIGSTOP the member process %d for %.1fs (a frozen worker)',
                child.proc.pid, pause)
            child.signal(signal.SIGSTOP)
            try:
                eventlet.sleep(pause)
            finally:
                child.signal(signal.SIGCONT)
            say('SIGCONT the member process')
        elif mode == 'server-sigstop':
            say('SIGSTOP the ZooKeeper server %d for %.1fs', args.zk_pid,
                pause)
            os.kill(args.zk_pid, signal.SIGSTOP)
            try:
                eventlet.sleep(pause)
                say('during the pause: monitor get_all() = %r',
                    monitor.get_all())
            finally:
                os.kill(args.zk_pid, signal.SIGCONT)
            say('SIGCONT the ZooKeeper server')
        else:
            # The member is stopped meanwhile: otherwise its C client
            # reconnects at once when the server moves the session to the
            # second handle, and the close() may not expire anything.
            say('SIGSTOP the member; expire session 0x%x by opening and '
                'closing a second handle with its id and password; SIGCONT',
                old_id)
            child.signal(signal.SIGSTOP)
            try:
                try:
                    expire_by_hijack(args.address, joined)
                except TypeError as e:
                    # zkpython parses the 16-byte password with "s": one
                    # holding a NUL byte cannot be passed to init().
                    say('zookeeper.init() refused the session password '
                        '(%s); keeping the member stopped past the '
                        'session timeout instead', e)
                    eventlet.sleep(2.5 * RECV_TIMEOUT / 1000.0)
                eventlet.sleep(0.5)
            finally:
                child.signal(signal.SIGCONT)
        # a fresh observer session, opened after the disruption
        s_obs = new_session(args.address, null)
        wait_until(s_obs.is_connected, 10)

        def owner():
            return node_owner(s_obs, path)

        def settled():
            o = owner()
            return o is not None and o != old_id
        took = wait_until(settled, 4 * RECV_TIMEOUT / 1000.0, step=0.2)
        eventlet.sleep(0.5)
        new_owner = owner()
        watcher_gt.kill()
        s_obs.close()
        if vanished:
            say('the monitor dropped %s %.2fs after the pause/expiry began',
                name, vanished[0] - t0)
        else:
            say('the monitor never dropped %s', name)
        say('monitor get_all() now %r; session events of the monitor\'s '
            'session meanwhile: %s', monitor.get_all(),
            mon_rec.events[n_mon:] or '(none)')
        say('child output after the expiry: %s',
            ' | '.join(child.lines[n_lines:]) or '(nothing)')
        if new_owner == old_id:
            say('RESULT[%s]: session 0x%x was NOT expired (node still owned '
                'by it)', mode, old_id)
            return 'not-expired'
        if took is not None:
            say('RESULT[%s]: session 0x%x expired; Membership re-created %s '
                'under the new session 0x%x', mode, old_id, name, new_owner)
            return 'rejoined'
        say('RESULT[%s]: session 0x%x expired; %s was NOT re-created '
            '(node %s)', mode, old_id, name,
            'owned by 0x%x' % new_owner if new_owner else 'absent')
        return 'not-rejoined'
    finally:
        child.kill()


def blip_check(args, null, blips=2, pause=3.0):
    """Step 6: short server pauses (connection loss, the session usually
    survives): does the MembershipMonitor recover, and how many callbacks
    does one child change cause afterwards?"""
    base = os.path.dirname(args.prefix.rstrip('/')) + '/blip-check'
    s_w = new_session(args.address, null)
    s_m = new_session(args.address, null)
    wait_until(lambda: s_w.is_connected() and s_m.is_connected(), 10)
    ensure_parents(s_w, base + '/x')
    calls = []
    monitor = membership.MembershipMonitor(
        s_m, base, cb_func=lambda members: calls.append(members))
    wait_until(lambda: monitor.get_all() is not None, 10)
    acl = [evzookeeper.ZOO_OPEN_ACL_UNSAFE]

    def churn():
        eventlet.sleep(0.3)
        n0 = len(calls)
        for i in range(2):
            s_w.create('%s/n%d' % (base, i), 'v', acl, zookeeper.EPHEMERAL)
            eventlet.sleep(0.3)
        for i in range(2):
            s_w.delete('%s/n%d' % (base, i))
            eventlet.sleep(0.3)
        eventlet.sleep(0.3)
        return len(calls) - n0

    per_change = [churn() / 4.0]
    recovered = True
    for k in range(blips):
        sid = s_m.client_id()[0]
        os.kill(args.zk_pid, signal.SIGSTOP)
        try:
            eventlet.sleep(pause)
        finally:
            os.kill(args.zk_pid, signal.SIGCONT)
        wait_until(lambda: s_w.is_connected() and s_m.is_connected(), 6)
        eventlet.sleep(0.5)
        expired = s_m.client_id()[0] != sid or not s_m.is_connected()
        n = churn()
        per_change.append(n / 4.0)
        members = monitor.get_all()
        say('server paused %.1fs (#%d): monitor session %s; 4 child changes '
            'then gave %d monitor callbacks; get_all() = %r', pause, k + 1,
            'EXPIRED/replaced' if expired else 'survived (same id)', n,
            members)
        if members is None:
            recovered = False
    say('monitor callbacks per child change: %s (fresh, then after each '
        'pause)', per_change)
    s_w.close()
    s_m.close()
    return recovered, per_change


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('address', help='ZooKeeper host:port[,host:port...]')
    ap.add_argument('--prefix', default=PREFIX_DEFAULT)
    ap.add_argument('--zk-pid', type=int, default=None,
                    help='pid of the ZooKeeper server, for server-sigstop')
    ap.add_argument('--expiry', default=None,
                    help='comma-separated ways to expire a member session: '
                         'member-sigstop, server-sigstop (needs --zk-pid), '
                         'hijack, none (default: member-sigstop,hijack plus '
                         'server-sigstop when --zk-pid is given)')
    ap.add_argument('--pause', type=float, default=None,
                    help='seconds a process stays SIGSTOPped '
                         '(default 2.5 x recv_timeout)')
    ap.add_argument('--allow-no-rejoin', action='store_true',
                    help='report, but do not fail, when a member does not '
                         're-join after its session expired')
    ap.add_argument('--monkey-patch', action='store_true',
                    help='eventlet.monkey_patch(os=False) first, as nova '
                         'binaries do (children too)')
    ap.add_argument('--no-blip', action='store_true',
                    help='skip step 6 (short server pauses; needs --zk-pid)')
    ap.add_argument('--verbose', action='store_true')
    ap.add_argument('--child', default=None, help=argparse.SUPPRESS)
    ap.add_argument('--t0', type=float, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    global T0
    if args.t0:
        T0 = args.t0  # a child reports times on its parent's clock

    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    if args.child:
        return child_main(args.address, args.prefix, args.child)

    if args.expiry is None:
        modes = ['member-sigstop', 'hijack']
        if args.zk_pid:
            modes.append('server-sigstop')
    else:
        modes = [m for m in args.expiry.split(',') if m and m != 'none']
    for m in modes:
        if m not in ('member-sigstop', 'server-sigstop', 'hijack'):
            print('unknown --expiry mode %r' % m, file=sys.stderr)
            return 2
        if m == 'server-sigstop' and not args.zk_pid:
            print('server-sigstop needs --zk-pid', file=sys.stderr)
            return 2

    null = open(os.devnull, 'w')
    say('python %s, zkpython %s (C client %s) at %s', sys.version.split()[0],
        zkpython_version(), getattr(zookeeper, '__version__', '?'),
        zookeeper.__file__)
    say('evzookeeper at %s, eventlet %s', evzookeeper.__file__,
        eventlet.__version__)
    prefix = args.prefix
    fds_start = open_fds()

    # -- 1. join + monitor -------------------------------------------------
    s_member = new_session(args.address, null)
    rec = EventRecorder(s_member)
    ensure_parents(s_member, prefix)
    m_a = join(s_member, prefix, 'hostA')
    say('member session 0x%x joined as hostA', s_member.client_id()[0])

    s_mon = new_session(args.address, null)
    mon_rec = EventRecorder(s_mon)
    monitor = membership.MembershipMonitor(s_mon, prefix)
    took = wait_until(lambda: 'hostA' in (monitor.get_all() or ()), 10)
    check(took is not None, 'monitor sees hostA (%s)' % (
        'after %.2fs' % took if took is not None else 'never'))
    details = monitor.get_member_details('hostA')
    say('hostA node: data=%r ephemeralOwner=0x%x', details[0],
        details[1]['ephemeralOwner'])

    # -- 2. leave ------------------------------------------------------------
    t = time.time()
    m_a.leave()
    took = wait_until(lambda: 'hostA' not in (monitor.get_all() or ()), 10)
    check(took is not None,
          'after leave() the monitor drops hostA (%s after leave)' % (
              '%.2fs' % (time.time() - t) if took is not None else 'never'))
    say('session events the member session watcher delivered: %s',
        rec.events)

    # -- 3. SIGKILLed child -------------------------------------------------
    cname = 'hostKilled'
    child = Child(args.address, prefix, cname)
    joined = child.wait_joined()
    say('child pid %d joined as %s on session %s', child.proc.pid, cname,
        '0x%x' % joined[0] if joined else None)
    took = wait_until(lambda: cname in (monitor.get_all() or ()), 10)
    check(took is not None, 'monitor sees the child %s' % cname)
    t_kill = time.time()
    child.kill()
    limit = 3 * RECV_TIMEOUT / 1000.0
    took = wait_until(lambda: cname not in (monitor.get_all() or ()), limit)
    check(took is not None,
          'SIGKILLed child disappears from the monitor (%s after the kill, '
          'recv_timeout %.1fs)' % (
              '%.2fs' % (time.time() - t_kill) if took is not None
              else 'not within %.0fs' % limit, RECV_TIMEOUT / 1000.0))

    # -- 4. fds ---------------------------------------------------------------
    fds_before = open_fds()
    for _ in range(200):
        s_mon.get_children(prefix)
        s_mon.exists(prefix)
    eventlet.sleep(0.2)
    fds_after = open_fds()
    say('open fds: %d at start, %d before and %d after 400 synchronous '
        'evzookeeper calls', fds_start, fds_before, fds_after)
    check(fds_after - fds_before <= 2,
          'no fd growth over 400 calls (delta %d)' % (fds_after - fds_before))
    fds_before = open_fds()
    for _ in range(10):
        s = new_session(args.address, null)
        wait_until(s.is_connected, 10)
        s.close()
    s = None
    gc.collect()
    eventlet.sleep(0.2)
    say('open fds: %d before and %d after 10 ZKSession() + close() '
        '(evzookeeper 0.4.0 keeps each closed session alive: its '
        '_session_thread and zkpython\'s never-freed session watcher hold '
        'it, with its 2-fd pipe)', fds_before, open_fds())

    # -- 5. session expiry ---------------------------------------------------
    results = {}
    for mode in modes:
        fds0 = open_fds()
        results[mode] = expiry_check(args, mode, monitor, mon_rec, null)
        say('open fds of this process: %d before, %d after', fds0,
            open_fds())
        if results[mode] == 'not-rejoined' and not args.allow_no_rejoin:
            check(False, 'member re-joined after its session expired (%s)'
                  % mode)
    say('expiry results: %s', ', '.join('%s=%s' % (m, results[m])
                                        for m in modes) or 'skipped')

    # -- 6. connection loss without expiry -------------------------------
    if args.zk_pid and not args.no_blip:
        say('--- connection loss: short ZooKeeper server pauses')
        recovered, _per_change = blip_check(args, null)
        if args.allow_no_rejoin:
            say('RESULT[blip]: the monitor %s after connection losses',
                'recovered' if recovered else 'did NOT recover')
        else:
            check(recovered, 'the monitor recovers after connection losses')

    monitor = None
    s_mon.close()
    s_member.close()
    if FAILURES:
        say('%d check(s) failed: %s', len(FAILURES), '; '.join(FAILURES))
        return 1
    say('all checks passed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
