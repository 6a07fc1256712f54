# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""A nova worker's lifecycle: its row, its group membership, its signals."""

import fcntl
import os
import signal
import socket
import sys

import eventlet
from eventlet import event
from eventlet import hubs

try:
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg

from nova import context
from nova import db
from nova import exception
from nova.openstack.common.gettextutils import _
from nova.openstack.common import importutils
from nova.openstack.common import log as logging
from nova.openstack.common import timeutils
from nova import servicegroup

LOG = logging.getLogger(__name__)

service_opts = [
    cfg.IntOpt('report_interval', default=10,
               help='seconds between nodes reporting state to datastore'),
    cfg.IntOpt('periodic_interval', default=60,
               help='seconds between running periodic tasks'),
    cfg.IntOpt('service_down_time', default=60,
               help='maximum time since last check-in for up service'),
    cfg.StrOpt('host', default=socket.gethostname(),
               help='Name of this node.  This can be an opaque identifier.  '
                    'It is not necessarily a hostname, FQDN, or IP address.'),
    cfg.StrOpt('compute_topic', default='compute',
               help='the topic compute nodes listen on'),
    cfg.StrOpt('compute_manager',
               default='nova.compute.manager.ComputeManager',
               help='full class name for the Manager for compute'),
    cfg.StrOpt('default_availability_zone', default='nova',
               help='availability zone of this service'),
]

CONF = cfg.CONF
CONF.register_opts(service_opts)


class Service(object):
    """A worker on a host: a manager, a services row and a group membership.

    The liveness of the service is the servicegroup driver's business: start
    joins the group named by the topic, stop leaves it.
    """

    def __init__(self, host, binary, topic, manager=None, report_interval=None,
                 periodic_enable=None, periodic_fuzzy_delay=None,
                 periodic_interval_max=None, db_allowed=True,
                 *args, **kwargs):
        self.host = host
        self.binary = binary
        self.topic = topic
        self.manager_class_name = manager
        self.servicegroup_api = servicegroup.API(db_allowed=db_allowed)
        self.manager = None
        if manager:
            manager_class = importutils.import_class(manager)
            self.manager = manager_class(host=self.host, *args, **kwargs)
        self.report_interval = report_interval
        self.periodic_enable = periodic_enable
        self.service_ref = None
        self.service_id = None
        self.timers = []
        self.model_disconnected = False
        self._done = event.Event()

    def start(self):
        LOG.info(_('Starting %(topic)s node on %(host)s'),
                 {'topic': self.topic, 'host': self.host})
        # Before the row is written: a name the driver refuses must not
        # leave a row behind that can never be up.
        self.servicegroup_api.check_member(self.host, self.topic)
        if self.manager:
            self.manager.init_host()
        ctxt = context.get_admin_context()
        try:
            self.service_ref = db.service_get_by_args(ctxt, self.host,
                                                      self.binary)
            self.service_id = self.service_ref['id']
            # Updated_At then tells when the worker last started, also
            # with the drivers that write no heartbeat to the row (zk, mc).
            self.service_ref = db.service_update(
                ctxt, self.service_id, {'updated_at': timeutils.utcnow()})
        except exception.NotFound:
            self._create_service_ref(ctxt)
        if self.manager:
            self.manager.pre_start_hook()
        pulse = self.servicegroup_api.join(self.host, self.topic, self)
        if pulse:
            self.timers.append(pulse)
        if self.manager:
            self.manager.post_start_hook()

    def _create_service_ref(self, ctxt):
        svc_values = {
            'host': self.host,
            'binary': self.binary,
            'topic': self.topic,
            'report_count': 0,
            'updated_at': timeutils.utcnow(),
            'availability_zone': CONF.default_availability_zone,
            'disabled': not CONF.enable_new_services,
        }
        self.service_ref = db.service_create(ctxt, svc_values)
        self.service_id = self.service_ref['id']

    @classmethod
    def create(cls, host=None, binary=None, topic=None, manager=None,
               report_interval=None, periodic_enable=None,
               periodic_fuzzy_delay=None, periodic_interval_max=None,
               db_allowed=True):
        """Instantiates class and passes back application object.

        :param host: defaults to CONF.host
        :param binary: defaults to basename of executable
        :param topic: defaults to bin_name - 'nova-' part
        :param manager: defaults to CONF.<topic>_manager
        :param report_interval: defaults to CONF.report_interval
        """
        if not host:
            host = CONF.host
        if not binary:
            binary = os.path.basename(sys.argv[0])
        if not topic:
            topic = binary.rpartition('nova-')[2]
        if not manager:
            manager = getattr(CONF, '%s_manager' % topic, None)
        if report_interval is None:
            report_interval = CONF.report_interval
        return cls(host, binary, topic, manager,
                   report_interval=report_interval,
                   periodic_enable=periodic_enable,
                   periodic_fuzzy_delay=periodic_fuzzy_delay,
                   periodic_interval_max=periodic_interval_max,
                   db_allowed=db_allowed)

    def kill(self):
        """Stop, then remove this service's row from the datastore."""
        self.stop()
        if self.service_id is None:
            return
        try:
            db.service_destroy(context.get_admin_context(), self.service_id)
        except exception.NotFound:
            LOG.warn(_('Service killed that has no database entry'))

    def stop(self):
        """Stop the timers; with the zk driver that leaves the group."""
        for timer in self.timers:
            try:
                timer.stop()
            except Exception:
                LOG.exception(_('Error stopping the timer of %s'), self.host)
        self.timers = []
        if not self._done.ready():
            self._done.send(True)

    def wait(self):
        self._done.wait()

    def periodic_tasks(self, raise_on_error=False):
        if self.manager:
            ctxt = context.get_admin_context()
            return self.manager.periodic_tasks(ctxt,
                                               raise_on_error=raise_on_error)


_launched = []


def serve(server):
    """Start a service; wait() keeps the process until it is signalled."""
    server.start()
    _launched.append(server)


class _SignalPipe(object):
    """Turn SIGTERM/SIGINT/SIGHUP into a stop run by a green thread, now.

    The handler cannot stop the services itself (leave() talks to
    ZooKeeper and must run in a green thread), and a green thread spawned
    from it would wait until the hub's next timer: since PEP 475 an
    interrupted epoll resumes with its old timeout.  A byte in a pipe the
    hub watches wakes it.
    """

    def __init__(self):
        self.read_fd, self.write_fd = os.pipe()
        for fd in (self.read_fd, self.write_fd):
            fcntl.fcntl(fd, fcntl.F_SETFL,
                        fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        self.signals = []

    def handler(self, signo, frame):
        self.signals.append(signo)
        try:
            os.write(self.write_fd, b'x')
        except OSError:
            pass  # a byte is already waiting

    def watch(self):
        while True:
            hubs.trampoline(self.read_fd, read=True)
            try:
                os.read(self.read_fd, 512)
            except OSError:
                continue
            while self.signals:
                LOG.info(_('Caught signal %s, stopping'), self.signals.pop(0))
                for server in list(_launched):
                    server.stop()

    def close(self):
        os.close(self.read_fd)
        os.close(self.write_fd)


def wait():
    pipe = _SignalPipe()
    watcher = eventlet.spawn(pipe.watch)
    # SIGHUP too: OpenStack services reload on it; a worker with nothing
    # to reload stops cleanly (leaving its groups) rather than die of it.
    for signo in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signo, pipe.handler)
    try:
        for server in list(_launched):
            server.wait()
    finally:
        del _launched[:]
        watcher.kill()
        pipe.close()
