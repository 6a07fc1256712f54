#!/usr/bin/env python
"""An operator's end-to-end in a real, patched Grizzly 2013.1.5 checkout.

    grizzly_e2e.py GRIZZLY_TREE

Run with the lane's Python 2.7 (tools/py27/run_lane.sh does).  It starts a
3-server ZooKeeper ensemble on loopback (tickTime 2000 ms, as in
production), writes a nova.conf whose zk part is the seed's snippet (the
quotes included; the addresses are the ensemble's), and with Grizzly's own
bin/nova-manage and bin/nova-compute (fake virt driver, fake rpc, local
conductor):

  1. db sync; three workers; `service list` shows all ":-)";
  2. SIGKILL of one: its node is gone within session timeout + tickTime +
     1 s, and the next `service list` shows it "XXX", the others ":-)";
  3. SIGTERM of one: its node is gone within 1 s, then "XXX";
  4. a worker killed and started again at once: ":-)" as soon as its old
     session expired (within session timeout + tickTime + 1 s);
  5. ZooKeeper stopped: `service list` fails naming the service group
     driver and the ZooKeeper address, without "Exception in string format
     operation"; every worker logs the outage at WARNING;
  6. ZooKeeper back: every live worker ":-)" again without a restart, and
     logs at WARNING that it is back.

The times are measured with a ZooKeeper client watching the member nodes
(what every reader sees), and each is then confirmed by `service list`.
Prints one line per check and closes with "N passed, N failed".
"""

from __future__ import print_function

import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import zookeeper

TICK_MS = 2000
RECV_TIMEOUT_MS = 4000       # the driver's default recv_timeout
MARGIN = 1.0
GROUP = '/servicegroups/compute'
HOSTS = ('compute-1', 'compute-2', 'compute-3')


class Checks(object):

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what, detail=''):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print('e2e: %-4s %s%s' % ('ok' if ok else 'FAIL', what,
                                  (': ' + detail) if detail else ''))
        sys.stdout.flush()
        return ok


class Watcher(object):
    """A zkpython client that tells when a member node exists."""

    def __init__(self, address):
        zookeeper.set_log_stream(open(os.devnull, 'w'))
        self.handle = zookeeper.init(address, None, 10000)

    def owner(self, host):
        """The session owning the host's node, 0 when there is none."""
        try:
            stat = zookeeper.exists(self.handle, '%s/%s' % (GROUP, host))
        except zookeeper.NoNodeException:
            return 0
        except zookeeper.ZooKeeperException:
            return None          # not connected: unknown
        return (stat or {}).get('ephemeralOwner', 0)

    def wait(self, predicate, timeout, interval=0.05):
        """Seconds until predicate() held, or None after ``timeout``."""
        start = time.time()
        while time.time() - start < timeout:
            if predicate():
                return time.time() - start
            time.sleep(interval)
        return None


class Grizzly(object):

    def __init__(self, tree, work, address):
        self.tree = tree
        self.work = work
        self.conf = os.path.join(work, 'nova.conf')
        with open(self.conf, 'w') as f:
            f.write(NOVA_CONF % {'work': work, 'address': address})
        self.workers = {}

    def manage(self, *args):
        cmd = [sys.executable, os.path.join(self.tree, 'bin', 'nova-manage'),
               '--config-file', self.conf] + list(args)
        proc = subprocess.Popen(cmd, cwd=self.work, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        out = proc.communicate()[0].decode('utf-8', 'replace')
        return proc.returncode, out

    def states(self):
        """{host: ':-)' | 'XXX'} from `nova-manage service list`."""
        rc, out = self.manage('service', 'list')
        result = {}
        for line in out.splitlines():
            fields = line.split()
            if len(fields) >= 5 and fields[0] == 'nova-compute':
                result[fields[1]] = fields[4]
        return rc, out, result

    def start(self, host):
        host_conf = os.path.join(self.work, '%s.conf' % host)
        with open(host_conf, 'w') as f:
            f.write('[DEFAULT]\nhost=%s\nlog_file=%s\n'
                    % (host, self.log_path(host)))
        out = open(os.path.join(self.work, '%s.out' % host), 'a')
        self.workers[host] = subprocess.Popen(
            [sys.executable, os.path.join(self.tree, 'bin', 'nova-compute'),
             '--config-file', self.conf, '--config-file', host_conf],
            cwd=self.work, stdout=out, stderr=subprocess.STDOUT)
        out.close()

    def log_path(self, host):
        return os.path.join(self.work, '%s.log' % host)

    def log(self, host):
        with open(self.log_path(host)) as f:
            return f.read()

    def signal(self, host, signo):
        self.workers[host].send_signal(signo)

    def reap(self, host, timeout=15.0):
        proc = self.workers.pop(host)
        deadline = time.time() + timeout
        while proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
        return proc.wait()

    def stop_all(self):
        for host in list(self.workers):
            if self.workers[host].poll() is None:
                self.signal(host, signal.SIGKILL)
            self.reap(host)


# The seed's snippet, verbatim but for the addresses (the ensemble's own),
# after what a worker with no hypervisor and no message bus needs.
NOVA_CONF = """\
[DEFAULT]
state_path=%(work)s
lock_path=%(work)s
sql_connection=sqlite:///%(work)s/nova.sqlite
compute_driver=nova.virt.fake.FakeDriver
rpc_backend=nova.openstack.common.rpc.impl_fake
servicegroup_driver="zk"

[conductor]
use_local=True

[zookeeper]
address="%(address)s"
"""


def all_up(states, hosts):
    return all(states.get(h) == ':-)' for h in hosts)


def run(tree, checks):
    sys.path.insert(0, tree)
    from nova.tests import zkserver

    work = tempfile.mkdtemp(prefix='grizzly-e2e-')
    zk = zkserver.ZooKeeperEnsemble(size=3, tick_time=TICK_MS,
                                    base_dir=os.path.join(work, 'zk'))
    zk.start()
    nova = Grizzly(tree, work, zk.address)
    try:
        scenario(nova, zk, checks)
    finally:
        nova.stop_all()
        zk.cleanup()
        for host in HOSTS:
            path = nova.log_path(host)
            if checks.failed and os.path.exists(path):
                print('---- %s (last lines)' % path)
                with open(path) as f:
                    print(''.join(f.readlines()[-15:]))


def scenario(nova, zk, checks):
    watcher = Watcher(zk.address)
    kill_bound = (RECV_TIMEOUT_MS + TICK_MS) / 1000.0 + MARGIN

    rc, out = nova.manage('db', 'sync')
    if not checks.check(rc == 0, 'bin/nova-manage db sync', out[-300:]):
        return
    for host in HOSTS:
        nova.start(host)
    t = watcher.wait(lambda: all(watcher.owner(h) for h in HOSTS), 60)
    rc, out, states = nova.states()
    if not checks.check(t is not None and all_up(states, HOSTS),
                        'three bin/nova-compute workers all ":-)"', out):
        return
    print(out)

    # 2. SIGKILL
    victim, others = HOSTS[0], HOSTS[1:]
    nova.signal(victim, signal.SIGKILL)
    gone = watcher.wait(lambda: watcher.owner(victim) == 0, 30)
    nova.reap(victim)
    rc, out, states = nova.states()
    checks.check(gone is not None and gone <= kill_bound,
                 'SIGKILL: node gone after %s s (bound %.1f s)'
                 % ('%.2f' % gone if gone is not None else 'never',
                    kill_bound))
    checks.check(states.get(victim) == 'XXX' and all_up(states, others),
                 'SIGKILL: then service list shows %s XXX, the others :-)'
                 % victim, out)
    print(out)

    # 3. SIGTERM
    victim, others = HOSTS[1], HOSTS[2:]
    nova.signal(victim, signal.SIGTERM)
    gone = watcher.wait(lambda: watcher.owner(victim) == 0, 30)
    code = nova.reap(victim)
    rc, out, states = nova.states()
    checks.check(gone is not None and gone <= 1.0,
                 'SIGTERM: node gone after %s s (bound 1.0 s), worker '
                 'exit status %s' % ('%.2f' % gone if gone is not None
                                     else 'never', code))
    checks.check(states.get(victim) == 'XXX' and all_up(states, others),
                 'SIGTERM: then service list shows %s XXX' % victim, out)

    # 4. killed and started again at once
    victim = HOSTS[2]
    old = watcher.owner(victim)
    nova.signal(victim, signal.SIGKILL)
    nova.reap(victim)
    start = time.time()
    nova.start(victim)
    back = watcher.wait(lambda: watcher.owner(victim) not in (0, None, old),
                        60)
    rc, out, states = nova.states()
    checks.check(back is not None and back <= kill_bound + 1.0,
                 'restart: new worker joined %s s after the old one died '
                 '(bound: its session expiry, %.1f s)'
                 % ('%.2f' % back if back is not None else 'never',
                    kill_bound + 1.0))
    checks.check(states.get(victim) == ':-)',
                 'restart: service list shows %s :-)' % victim, out)
    print('e2e: (restart measured from %.2f s after the kill)'
          % (time.time() - start - (back or 0)))

    # 5. ZooKeeper stopped, with three live workers
    for host in HOSTS[:2]:
        nova.start(host)
    watcher.wait(lambda: all(watcher.owner(h) for h in HOSTS), 60)
    for i in range(len(zk.servers)):
        zk.stop(i)
    time.sleep(RECV_TIMEOUT_MS / 1000.0)
    rc, out, states = nova.states()
    address = zk.address
    checks.check(rc != 0 and 'ZooKeeperDriver' in out and address in out
                 and 'XXX' not in out
                 and 'Exception in string format operation' not in out,
                 'ZooKeeper stopped: service list fails naming the driver '
                 'and %s' % address,
                 '\n'.join(out.splitlines()[-4:]))
    print('\n'.join(line for line in out.splitlines()
                    if 'Unavailable' in line or 'ZooKeeperDriver' in line))
    lost = [h for h in HOSTS
            if re.search(r'WARNING .*lost the connection to ZooKeeper',
                         nova.log(h))]
    checks.check(lost == list(HOSTS),
                 'ZooKeeper stopped: every worker logged the loss at '
                 'WARNING', 'logged: %s' % ', '.join(lost))

    # 6. ZooKeeper back
    start = time.time()
    for i in range(len(zk.servers)):
        zk.start_member(i, wait=False)
    zk.wait_for_quorum(60)
    deadline = time.time() + 60
    states = {}
    while time.time() < deadline:
        rc, out, states = nova.states()
        if rc == 0 and all_up(states, HOSTS):
            break
        time.sleep(0.5)
    checks.check(all_up(states, HOSTS),
                 'ZooKeeper back: all ":-)" again %.1f s after the restart '
                 'began, no worker restarted' % (time.time() - start), out)
    print(out)
    back = [h for h in HOSTS
            if re.search(r'WARNING .*reconnected to ZooKeeper', nova.log(h))]
    checks.check(back == list(HOSTS),
                 'ZooKeeper back: every worker logged it at WARNING',
                 'logged: %s' % ', '.join(back))
    for h in HOSTS:
        for line in nova.log(h).splitlines():
            if 'WARNING' in line and 'ZooKeeper' in line:
                print('e2e: %s log: %s' % (h, line.split(' WARNING ')[-1]))


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    checks = Checks()
    try:
        run(os.path.abspath(argv[1]), checks)
    except Exception as e:
        import traceback
        traceback.print_exc()
        checks.check(False, 'the end-to-end ran to its end', repr(e))
    print('e2e: %d passed, %d failed' % (checks.passed, checks.failed))
    return 1 if checks.failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
