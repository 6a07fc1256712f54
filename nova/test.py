# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Base classes for our unit tests.

Allows overriding of flags for use of fakes, and some black magic for
inline callbacks.  Every test gets its own state directory and SQLite
database, flags reset after it, and a servicegroup API that forgets its
driver.
"""

import os
import shutil
import tempfile
import time

import eventlet
import fixtures
import testtools

try:
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg

from nova.db import migration
from nova.db.sqlalchemy import session
from nova.openstack.common import timeutils
from nova import paths  # noqa: registers state_path
from nova import servicegroup

CONF = cfg.CONF
CONF.import_opt('sql_connection', 'nova.db.sqlalchemy.session')


class StubOutForTesting(object):
    """Grizzly's ``self.stubs``: Set an attribute, undone after the test."""

    def __init__(self):
        self.cache = []

    def Set(self, parent, child_name, new_child):
        old_child = getattr(parent, child_name)
        self.cache.append((parent, old_child, child_name,
                           child_name in getattr(parent, '__dict__', {})))
        setattr(parent, child_name, new_child)

    def UnsetAll(self):
        for parent, old_child, child_name, had_own in reversed(self.cache):
            if had_own:
                setattr(parent, child_name, old_child)
            else:
                try:
                    delattr(parent, child_name)
                except AttributeError:
                    setattr(parent, child_name, old_child)
        self.cache = []

    SmartUnsetAll = UnsetAll


def reset_servicegroup_driver():
    """Forget the process's servicegroup driver, closing what it holds."""
    driver = servicegroup.API._driver
    servicegroup.API._driver = None
    cleanup = getattr(driver, 'cleanup', None)
    if cleanup is not None:
        cleanup()


class TestCase(testtools.TestCase):
    """Test case base class for all unit tests."""

    TIMEOUT_SECS = int(os.environ.get('NOVA_TEST_TIMEOUT', 300))

    def setUp(self):
        super(TestCase, self).setUp()
        if self.TIMEOUT_SECS > 0:
            self.useFixture(fixtures.Timeout(self.TIMEOUT_SECS, gentle=True))
        self.state_path = tempfile.mkdtemp(prefix='nova-test-')
        self.addCleanup(shutil.rmtree, self.state_path, True)
        self.addCleanup(CONF.reset)
        self.flags(state_path=self.state_path,
                   sql_connection='sqlite:///%s' % os.path.join(
                       self.state_path, 'nova.sqlite'))
        session.cleanup()
        migration.db_sync()
        self.addCleanup(session.cleanup)
        self.stubs = StubOutForTesting()
        self.addCleanup(self.stubs.UnsetAll)
        self.addCleanup(timeutils.clear_time_override)
        reset_servicegroup_driver()
        self.addCleanup(reset_servicegroup_driver)

    def flags(self, **kw):
        """Override flag variables for a test; CONF.reset undoes them."""
        group = kw.pop('group', None)
        for k, v in kw.items():
            CONF.set_override(k, v, group)

    def wait_for(self, predicate, timeout, interval=0.05, message=None):
        """Poll ``predicate`` in green sleeps until it is true or time ends.

        Returns the seconds it took; fails the test on time-out.
        """
        start = time.time()
        with eventlet.Timeout(timeout, False):
            while not predicate():
                eventlet.sleep(interval)
            return time.time() - start
        self.fail(message or 'condition not met within %ss' % timeout)
