#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""Functional tests of the zk servicegroup driver in the real Nova 34.

They run in Nova's own functional framework (nova.test.TestCase through
integrated_helpers._IntegratedTestBase: Placement, Neutron, Glance, Cinder
and OSAPI fixtures, conductor, scheduler and compute services started with
``self.start_service``) against a real ZooKeeper server on loopback, and
read liveness the way an operator does: GET /os-services.

Nova's test package picks the concurrency mode when it is imported:
OS_NOVA_DISABLE_EVENTLET_PATCHING=1 runs everything on native threads (and
forbids eventlet), unset runs it on eventlet.  Every test's setUp asserts
that the mode is the one claimed, in Nova (nova.utils.
concurrency_mode_threading(), eventlet absent from sys.modules or
monkey patched) and in each driver.  From zkgroup/tests/nova_functional
(its .stestr.conf keeps all tests in one worker: they measure seconds):

    OS_NOVA_DISABLE_EVENTLET_PATCHING=1 <venv>/bin/python -m stestr run
    <venv>/bin/python -m stestr run

in a virtualenv with nova==34.0.0, its test requirements and this
project's packages, patched by tools/patch_nova.py (tools/nova34/
build_venv.sh makes one; run_tests.sh --nova34 runs these in both modes).
Each measured time is printed as "[mode] test: what N s".  The C client's
own log goes to NOVA_ZK_CLIENT_LOG (else a temporary file, removed at exit).

The ZooKeeper fixture is the project's nova/tests/zkserver.py (stdlib
only), loaded by file path under another module name: importing the
project's ``nova`` package would shadow the real Nova.  NOVA_ZK_ZKSERVER
names another copy.
"""

import atexit
import importlib.util
import os
import socket
import sys
import tempfile
import threading
import time
import uuid
import warnings

# Nova's functional test package decides the concurrency mode (and monkey
# patches, or poisons eventlet) when it is imported: before anything else
# of Nova (nova.tests.fixtures alone would import eventlet first).
import nova.tests.functional  # noqa: F401

import fixtures
import zookeeper

from nova import exception
from nova.servicegroup.drivers import zk as zk_driver  # the [zookeeper] opts
from nova.tests.functional.api import client as api_client
from nova.tests.functional import integrated_helpers
from nova import utils

HERE = os.path.dirname(os.path.abspath(__file__))
ZKSERVER = os.environ.get('NOVA_ZK_ZKSERVER', os.path.normpath(
    os.path.join(HERE, '..', '..', '..', 'nova', 'tests', 'zkserver.py')))

#: The server's tick (ms): it grants sessions of 2 to 20 ticks.
TICK_MS = 200
#: What the driver asks for (ms): granted as is with TICK_MS.
RECV_TIMEOUT_MS = 2000
#: Slack on top of each promised time (s): a loaded 2-core machine.
SLACK = 0.5
#: Each bounded wait gives up after this long at most (s).
LONG_WAIT = 20.0
POLL = 0.02

THREADING_ENV = os.environ.get(
    'OS_NOVA_DISABLE_EVENTLET_PATCHING', '').lower() in ('1', 'true', 'yes')
MODE = 'threading' if THREADING_ENV else 'eventlet'


def _load_zkserver():
    spec = importlib.util.spec_from_file_location('nova_zk_test_zkserver',
                                                  ZKSERVER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


zkserver = _load_zkserver()

# The C client's log (every reconnect attempt while ZooKeeper is away) goes
# to a file, not into the test runner's output: NOVA_ZK_CLIENT_LOG, kept,
# else a temporary one, removed at exit.
CLIENT_LOG = os.environ.get('NOVA_ZK_CLIENT_LOG')
if not CLIENT_LOG:
    _fd, CLIENT_LOG = tempfile.mkstemp(prefix='nova-functional-zk-client-',
                                       suffix='.log')
    os.close(_fd)
    atexit.register(os.unlink, CLIENT_LOG)
zookeeper.set_debug_level(zookeeper.LOG_LEVEL_WARN)
zookeeper.set_log_stream(open(CLIENT_LOG, 'a'))

_SERVER = []


def zk_server():
    """The one ZooKeeper server of this test process, running."""
    if not _SERVER:
        server = zkserver.ZooKeeperServer(tick_time=TICK_MS)
        _SERVER.append(server)
        atexit.register(server.cleanup)
    server = _SERVER[0]
    if not server.running:
        server.start()
    return server


def report(test, what, seconds):
    """Print a measured time (stestr shows it with --subunit or on
    failure; the run's stdout keeps it)."""
    line = '[%s] %s: %s %.3f s' % (MODE, test.id().rsplit('.', 1)[-1],
                                   what, seconds)
    print(line)
    sys.stdout.flush()
    test.addDetail(what.replace(' ', '-'),
                   __import__('testtools').content.text_content(line))


class BlackholeProxy(object):
    """A TCP forwarder to one server that can go silent.

    ``freeze()`` stops forwarding in both directions without closing
    anything (a peer that vanished from the network: no FIN, no RST), and
    holds new connections unanswered; ``thaw()`` drops every connection it
    saw and forwards again.  Threads are native or green, with the mode.
    """

    def __init__(self, host, port):
        self._target = (host, port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(('127.0.0.1', 0))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self.frozen = False
        self._closed = False
        self._lock = threading.Lock()
        self._sockets = []
        self._threads = [self._spawn(self._accept)]

    @property
    def address(self):
        return '127.0.0.1:%d' % self.port

    def _spawn(self, func, *args):
        thread = threading.Thread(target=func, args=args, daemon=True)
        thread.start()
        return thread

    def _keep(self, sock):
        with self._lock:
            self._sockets.append(sock)

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._keep(client)
            if self.frozen:
                continue  # held: connected, never answered
            try:
                upstream = socket.create_connection(self._target, 2)
            except OSError:
                client.close()
                continue
            self._keep(upstream)
            for src, dst in ((client, upstream), (upstream, client)):
                src.settimeout(0.1)
                self._threads.append(self._spawn(self._pump, src, dst))

    def _pump(self, src, dst):
        while not self._closed:
            try:
                data = src.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            if self.frozen:
                continue  # swallowed
            try:
                dst.sendall(data)
            except OSError:
                break
        for sock in (src, dst):
            try:
                sock.close()
            except OSError:
                pass

    def _drop_all(self):
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                sock.close()
            except OSError:
                pass

    def freeze(self):
        self.frozen = True

    def thaw(self):
        self._drop_all()
        self.frozen = False

    def close(self):
        self._closed = True
        self._drop_all()
        self._listener.close()
        for thread in self._threads:
            thread.join(2)


class ZooKeeperServiceGroupTest(integrated_helpers._IntegratedTestBase):
    """Three nova-compute services (and the conductor and the scheduler)
    with servicegroup_driver=zk, read through GET /os-services."""

    ADMIN_API = True
    microversion = 'latest'
    REQUIRES_LOCKING = False
    HOSTS = ('host1', 'host2', 'host3')

    def setUp(self):
        self.server = zk_server()
        super().setUp()
        self.useFixture(fixtures.Timeout(120, gentle=True))
        self.assertMode()

    def _setup_services(self):
        # (called by _IntegratedTestBase.setUp: after Nova's ConfFixture,
        # before any service or the API exists)
        self.flags(api_paste_config=os.path.join(
            sys.prefix, 'etc', 'nova', 'api-paste.ini'), group='wsgi')
        self.flags(servicegroup_driver='zk')
        # each test its own prefix: nothing left by another test counts
        self.prefix = '/nova-functional-%s' % uuid.uuid4().hex[:12]
        self.flags(address=self.server.address,
                   recv_timeout=RECV_TIMEOUT_MS, sg_prefix=self.prefix,
                   sg_retry_interval=1, group='zookeeper')
        self.drivers = []
        real_init = zk_driver.ZooKeeperDriver.__init__
        drivers = self.drivers

        def init(driver, *args, **kwargs):
            real_init(driver, *args, **kwargs)
            drivers.append(driver)
        self.useFixture(fixtures.MonkeyPatch(
            'nova.servicegroup.drivers.zk.ZooKeeperDriver.__init__', init))
        # after the services' own cleanups (LIFO): end every session
        self.addCleanup(self._close_sessions)
        super()._setup_services()

    def _setup_compute_service(self):
        first = None
        for host in self.HOSTS:
            compute = self._start_compute(host)
            first = first or compute
        return first

    def _close_sessions(self):
        for driver in self.drivers:
            atexit.unregister(driver._close_at_exit)
            driver._close_at_exit()

    # -- helpers -----------------------------------------------------------

    def assertMode(self):
        """The mode is what this run claims, in Nova and in the driver."""
        self.assertEqual(THREADING_ENV, utils.concurrency_mode_threading())
        if THREADING_ENV:
            self.assertNotIn('eventlet', sys.modules)
        else:
            self.assertIn('eventlet', sys.modules)
            import eventlet.patcher
            self.assertTrue(eventlet.patcher.is_monkey_patched('thread'))
        self.assertTrue(self.drivers)
        for driver in self.drivers:
            self.assertEqual(MODE, driver._model.name)

    def states(self):
        """host -> state of the nova-compute services, from GET
        /os-services; raises OpenStackApiException on an error."""
        return dict((svc['host'], svc['state']) for svc in
                    self.api.get_services(binary='nova-compute'))

    def wait_for(self, predicate, what, timeout=LONG_WAIT, watch=None,
                 errors_ok=False):
        """Seconds until predicate(states) holds; fails after timeout.
        ``watch(states)`` sees every answer on the way (to assert on);
        ``errors_ok``: an API error is no answer, not a failure."""
        start = time.monotonic()
        states = None
        while True:
            try:
                states = self.states()
            except api_client.OpenStackApiException:
                if not errors_ok:
                    raise
            else:
                if watch is not None:
                    watch(states)
                if predicate(states):
                    return time.monotonic() - start
            if time.monotonic() - start > timeout:
                self.fail('%s: not within %.1f s (last: %s)'
                          % (what, timeout, states))
            time.sleep(POLL)

    def wait_readers_back(self, topic):
        """Until every driver of this process that read ``topic`` reads
        it again."""
        deadline = time.monotonic() + LONG_WAIT
        while True:
            groups = [d._groups[topic] for d in self.drivers
                      if topic in d._groups]
            self.assertTrue(groups, 'nobody read %s' % topic)
            if all(g.members() is not None for g in groups):
                return
            if time.monotonic() > deadline:
                self.fail('%d of %d readers of %s still unknown %.1f s '
                          'after ZooKeeper came back' % (
                              sum(g.members() is None for g in groups),
                              len(groups), topic, LONG_WAIT))
            time.sleep(POLL)

    def all_up(self, hosts=None):
        hosts = hosts or self.HOSTS
        return lambda states: all(states.get(h) == 'up' for h in hosts)

    def never_down(self, hosts):
        def watch(states):
            for host in hosts:
                self.assertEqual('up', states.get(host),
                                 '%s read %r: %s' % (host, states.get(host),
                                                     states))
        return watch

    def member_hosts(self, topic):
        """The host of each member node of ``topic``, read in ZooKeeper
        by a client of the test's own."""
        handle = zookeeper.init(self.server.address, None, RECV_TIMEOUT_MS)
        try:
            deadline = time.monotonic() + 10
            while zookeeper.state(handle) != zookeeper.CONNECTED_STATE:
                self.assertLess(time.monotonic(), deadline)
                time.sleep(POLL)
            children = zookeeper.get_children(
                handle, '%s/%s' % (self.prefix, topic))
        finally:
            zookeeper.close(handle)
        return sorted(name.rsplit('@', 1)[0] for name in children)

    def session_timeout(self, service):
        """The session timeout (s) the server granted ``service``."""
        session = service.servicegroup_api._driver._session
        self.assertTrue(session.wait_connected(5))
        return session.session_timeout()

    # -- the tests ---------------------------------------------------------

    def test_services_up(self):
        """Every compute service reads 'up' in os-services, and the
        conductor and scheduler too (they joined through zk as well)."""
        took = self.wait_for(self.all_up(), 'all computes up')
        report(self, 'computes up after setUp', took)
        print('[%s] nova.utils.concurrency_mode_threading() = %s; eventlet '
              'imported: %s' % (MODE, utils.concurrency_mode_threading(),
                                'eventlet' in sys.modules))
        services = self.api.get_services()
        self.assertEqual(
            sorted(['nova-conductor', 'nova-scheduler'] +
                   ['nova-compute'] * len(self.HOSTS)),
            sorted(svc['binary'] for svc in services))
        for svc in services:
            self.assertEqual('up', svc['state'], svc)
            self.assertIsNotNone(svc['updated_at'], svc)
        # they are members in ZooKeeper, one node per process
        self.assertEqual(sorted(self.HOSTS), self.member_hosts('compute'))
        self.assertEqual(RECV_TIMEOUT_MS / 1000.0,
                         self.session_timeout(self.computes['host1']))

    def test_stopped_service_down_within_1s(self):
        """Service.stop(): the stopped one reads 'down' within 1 s, the
        others stay 'up'."""
        self.wait_for(self.all_up(), 'all computes up')
        compute = self.computes['host2']
        start = time.monotonic()
        # Service.stop() shuts the manager down gracefully; watch the API
        # meanwhile, from here
        stopper = threading.Thread(target=compute.stop, daemon=True)
        stopper.start()
        took = self.wait_for(lambda s: s['host2'] == 'down', 'host2 down',
                             timeout=5,
                             watch=self.never_down(['host1', 'host3']))
        stopper.join(30)
        self.assertFalse(stopper.is_alive(), 'Service.stop() hung')
        stop_took = time.monotonic() - start
        report(self, 'stop -> down', took)
        report(self, 'Service.stop() returned after', stop_took)
        self.assertLessEqual(took, 1.0)
        # and it stays down; the others stay up
        time.sleep(0.5)
        self.assertEqual({'host1': 'up', 'host2': 'down', 'host3': 'up'},
                         self.states())

    def test_restarted_service_up_again(self):
        """Nova's own restart of a compute in the same process (stop, then a
        new Service for the same host): 'up' again as soon as the new
        service has started, with one member node for the host (the
        stopped one left; the new one joined)."""
        self.wait_for(self.all_up(), 'all computes up')
        old = self.computes['host2']
        start = time.monotonic()
        new = self.restart_compute_service(old)
        restart_took = time.monotonic() - start
        self.computes['host2'] = new
        self.assertIsNot(old, new)
        took = self.wait_for(self.all_up(), 'host2 up again', timeout=5,
                             watch=self.never_down(['host1', 'host3']))
        report(self, 'restart_compute_service() took', restart_took)
        report(self, 'restarted -> up', took)
        self.assertLessEqual(took, 1.0)
        self.assertEqual(['host1', 'host2', 'host3'],
                         self.member_hosts('compute'))

    def test_lost_session_down_then_rejoins(self):
        """A compute whose connection goes silent (no FIN, no leave: a
        machine off the network) reads 'down' once the server expires its
        session: within session timeout + tickTime of the silence (+
        SLACK), never earlier than 1/3 of the session timeout.  The others
        stay 'up'.  When the network is back, its process (still running:
        nothing was restarted) finds its session expired, opens a new one
        and joins again: 'up' again, under a new session."""
        proxy = BlackholeProxy(self.server.host, self.server.port)
        self.addCleanup(proxy.close)
        # a fourth compute, whose only way to ZooKeeper is the proxy
        self.flags(address=proxy.address, group='zookeeper')
        lost = self._start_compute('host4')
        self.flags(address=self.server.address, group='zookeeper')
        hosts = self.HOSTS + ('host4',)
        self.wait_for(self.all_up(hosts), 'all computes up')
        session = lost.servicegroup_api._driver._session
        self.assertEqual(proxy.address, session.address)
        timeout = self.session_timeout(lost)
        old_id = session.session_id
        self.assertIsNotNone(old_id)

        proxy.freeze()
        took = self.wait_for(lambda s: s['host4'] == 'down', 'host4 down',
                             timeout=timeout + TICK_MS / 1000.0 + 5,
                             watch=self.never_down(self.HOSTS))
        report(self, 'silence -> down', took)
        report(self, 'session timeout granted', timeout)
        self.assertLessEqual(took, timeout + TICK_MS / 1000.0 + SLACK)
        self.assertGreaterEqual(took, timeout / 3.0)

        proxy.thaw()
        took = self.wait_for(lambda s: s['host4'] == 'up', 'host4 up again',
                             watch=self.never_down(self.HOSTS))
        report(self, 'network back -> up', took)
        self.assertNotEqual(old_id, session.session_id)
        # (its node can be read a moment before the member loop marks
        # itself joined: it looks at the node once more after creating it)
        self.assertTrue(lost.servicegroup_api._driver._members[
            ('host4', 'compute')].joined.wait(5))

    def _outage(self):
        """Stop the server; return (seconds to the first error, the
        error) and check that no live service ever read 'down'."""
        self.wait_for(self.all_up(), 'all computes up')
        self.server.stop()
        start = time.monotonic()
        while True:
            try:
                states = self.states()
            except api_client.OpenStackApiException as exc:
                return time.monotonic() - start, exc
            self.never_down(self.HOSTS)(states)
            if time.monotonic() - start > LONG_WAIT:
                self.fail('os-services still answers %s %.1f s after '
                          'ZooKeeper stopped' % (states, LONG_WAIT))
            time.sleep(POLL)

    def test_zookeeper_gone_never_down_clear_error(self):
        """ZooKeeper stopped: os-services never reports a live service
        'down'; it fails instead.  What Nova 34 makes of the driver's
        ServiceGroupUnavailable (a NovaException, code 503): the services
        controller's index is wrapped in expected_errors(()), so any
        exception that is not a webob HTTP error (nor Forbidden, NotSupported,
        ValidationError, Unauthorized) becomes HTTP 500 "Unexpected API
        Error" naming only the exception's class; the driver's message, with
        ZooKeeper's address, is in the API's log (LOG.exception)."""
        # a caller of the servicegroup API that read the group before
        api = self.computes['host1'].servicegroup_api
        service = {'host': 'host1', 'topic': 'compute'}
        self.assertTrue(api.service_is_up(service))
        took, exc = self._outage()
        report(self, 'ZooKeeper stopped -> API error', took)
        self.assertEqual(500, exc.response.status_code)
        fault = exc.response.json()['computeFault']
        self.assertEqual(500, fault['code'])
        self.assertIn('Unexpected API Error', fault['message'])
        self.assertIn('nova.servicegroup.drivers.zk.ServiceGroupUnavailable',
                      fault['message'])
        # it stays an error, never 'down', while ZooKeeper is away
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            self.assertRaises(api_client.OpenStackApiException, self.states)
            time.sleep(0.1)
        # the API's log names ZooKeeper and its address
        log = self.stdlog.logger.output
        self.assertIn('ServiceGroupUnavailable', log)
        self.assertIn('The ZooKeeper servicegroup driver cannot tell which '
                      'services are up: no connection to ZooKeeper at %s'
                      % self.server.address, log)
        # what Nova's own callers of the servicegroup API (the scheduler's
        # filters, the compute API) get: the same exception (code 503), at
        # once, never False
        start = time.monotonic()
        err = self.assertRaises(zk_driver.ServiceGroupUnavailable,
                                api.service_is_up, service)
        self.assertLess(time.monotonic() - start, 1.0)
        self.assertIsInstance(err, exception.NovaException)
        self.assertEqual(503, err.code)
        self.assertIn('ZooKeeper at %s' % self.server.address, str(err))

    def test_boot_while_zookeeper_gone_clear_fault(self):
        """A boot while ZooKeeper is away is placed nowhere: the scheduler's
        ComputeFilter gets ServiceGroupUnavailable (never False), the
        conductor buries the instance in cell0, and the server reads ERROR
        with a fault of code 503 whose message names ZooKeeper and its
        address (what the os-services API cannot show).  Once ZooKeeper is
        back, a boot is ACTIVE on one of the computes, none restarted."""
        self.wait_for(self.all_up(), 'all computes up')
        # a boot before: the scheduler has read the group (its first read
        # during an outage would wait zk.FIRST_READ_TIMEOUT first)
        before = self._create_server(networks='none')
        self.assertIn(before['OS-EXT-SRV-ATTR:host'], self.HOSTS)
        took, exc = self._outage()
        start = time.monotonic()
        with warnings.catch_warnings():
            # Nova 34's cell0 path uses SQLAlchemy's noload(), deprecated
            # in SQLAlchemy 2.1; Nova's WarningsFixture makes that an error.
            # Once an instance is buried in cell0 the next boot's API call
            # can take that path too (seen once in threading mode: a 500
            # naming SADeprecationWarning), so the filter covers both.
            warnings.filterwarnings('ignore', message='The noload',
                                    category=DeprecationWarning)
            server = self._boot_while_away()
            report(self, 'boot -> ERROR', time.monotonic() - start)
            self.assertIsNone(server['OS-EXT-SRV-ATTR:host'])
            fault = server['fault']
            self.assertEqual(503, fault['code'])
            self.assertIn('The ZooKeeper servicegroup driver cannot tell '
                          'which services are up: no connection to '
                          'ZooKeeper at %s' % self.server.address,
                          fault['message'])
            self.server.start()
            self.wait_for(self.all_up(), 'all computes up', errors_ok=True)
            # the scheduler's driver has a session of its own, which may
            # reconnect a moment after the API's: until then it cannot tell
            # either (a 503, never a "down")
            self.wait_readers_back('compute')
            after = self._create_server(networks='none')
        self.assertIn(after['OS-EXT-SRV-ATTR:host'], self.HOSTS)

    def _boot_while_away(self):
        """POST a server and wait for it to read ERROR with its fault.

        While ZooKeeper is away, a GET of the server may itself fail (500)
        in a moment where Nova asks the servicegroup API about a host:
        that is no answer yet, not a failure."""
        created = self.api.post_server({'server': self._build_server(
            networks='none')})
        deadline = time.monotonic() + LONG_WAIT
        while True:
            try:
                server = self.admin_api.get_server(created['id'])
            except api_client.OpenStackApiException as exc:
                self.assertIn('ServiceGroupUnavailable', str(exc))
            else:
                if server['status'] == 'ERROR' and 'fault' in server:
                    return server
            if time.monotonic() > deadline:
                self.fail('the server did not read ERROR with a fault '
                          'within %.1f s' % LONG_WAIT)
            time.sleep(POLL)

    def test_zookeeper_back_services_up_again(self):
        """ZooKeeper restarted on the same port: every compute reads 'up'
        again, without restarting any service."""
        took, exc = self._outage()
        report(self, 'ZooKeeper stopped -> API error', took)
        services = dict(self.computes)
        start = time.monotonic()
        self.server.start()
        server_took = time.monotonic() - start

        def answer_up(states):
            return all(states.get(h) == 'up' for h in self.HOSTS)

        deadline = time.monotonic() + LONG_WAIT
        while True:
            try:
                states = self.states()
            except api_client.OpenStackApiException:
                states = None
            if states is not None:
                # what it answers at all, it answers right
                self.never_down(self.HOSTS)(states)
                if answer_up(states):
                    break
            if time.monotonic() > deadline:
                self.fail('not up %.1f s after ZooKeeper came back'
                          % LONG_WAIT)
            time.sleep(POLL)
        took = time.monotonic() - start
        report(self, 'ZooKeeper restart took', server_took)
        report(self, 'restart -> all up', took - server_took)
        self.assertEqual(services, self.computes)
        for host, compute in self.computes.items():
            member = compute.servicegroup_api._driver._members[
                (host, 'compute')]
            self.assertTrue(member.joined.wait(5), host)

    def test_stopped_during_outage_down_when_zookeeper_back(self):
        """Service.stop() while ZooKeeper is away: once ZooKeeper is back,
        the stopped service reads 'down' within 10 s, the others 'up'.  Its
        process still runs, and the session it had survives the server's
        restart, and with it its node, unless the driver deletes the node
        then (it stayed 'up' for good before commit 48e1f59)."""
        self.wait_for(self.all_up(), 'all computes up')
        self.server.stop()
        self.computes['host2'].stop()
        self.server.start()
        took = self.wait_for(lambda s: s['host2'] == 'down', 'host2 down',
                             timeout=10, errors_ok=True,
                             watch=self.never_down(['host1', 'host3']))
        report(self, 'ZooKeeper back -> stopped one down', took)
