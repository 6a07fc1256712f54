# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""DB abstraction for Nova."""

from nova.db.api import *  # noqa
