# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""The membership service for Nova.

Different implementations can be plugged in according to the
``servicegroup_driver`` option: db, zk or mc.
"""

from nova.servicegroup.api import *  # noqa
