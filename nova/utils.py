# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Utilities shared across nova: looping calls and small checks."""

import sys

import eventlet
from eventlet import event
from eventlet import greenthread

from nova.openstack.common.gettextutils import _
from nova.openstack.common import log as logging
from nova.openstack.common import timeutils

LOG = logging.getLogger(__name__)


class LoopingCallDone(Exception):
    """Raised by the function of a looping call to end it.

    The value given becomes the return value of ``wait()``.
    """

    def __init__(self, retvalue=True):
        super(LoopingCallDone, self).__init__()
        self.retvalue = retvalue


class LoopingCallBase(object):
    def __init__(self, f=None, *args, **kw):
        self.args = args
        self.kw = kw
        self.f = f
        self._running = False
        self.done = None

    def stop(self):
        self._running = False

    def wait(self):
        return self.done.wait()


class FixedIntervalLoopingCall(LoopingCallBase):
    """Call a function every ``interval`` seconds in a green thread.

    The interval is measured from start to start, so a slow call does not
    push later ones back; an exception is logged and the loop ends.
    """

    def start(self, interval, initial_delay=None):
        self._running = True
        done = event.Event()

        def _inner():
            if initial_delay:
                greenthread.sleep(initial_delay)
            try:
                while self._running:
                    start = timeutils.utcnow()
                    self.f(*self.args, **self.kw)
                    end = timeutils.utcnow()
                    if not self._running:
                        break
                    delay = interval - timeutils.total_seconds(end - start)
                    if delay <= 0:
                        LOG.warn(_('task run outlasted interval by %s sec'),
                                 -delay)
                    greenthread.sleep(max(delay, 0))
            except LoopingCallDone as e:
                self.stop()
                done.send(e.retvalue)
            except Exception:
                LOG.exception(_('in fixed duration looping call'))
                done.send_exception(*sys.exc_info())
                return
            else:
                done.send(True)

        self.done = done
        greenthread.spawn_n(_inner)
        return self.done


# Grizzly's name for the fixed interval loop.
LoopingCall = FixedIntervalLoopingCall


def check_isinstance(obj, cls):
    """Return ``obj`` if it is an instance of ``cls``, else raise."""
    if isinstance(obj, cls):
        return obj
    raise Exception(_('Expected object of type: %s') % (str(cls)))


def monkey_patch():
    """Green the standard library for a long-running service.

    ``os`` stays unpatched as in Grizzly's binaries: green os.read/write
    would make file I/O of the C client's log yield to the hub.
    """
    eventlet.monkey_patch(os=False)
