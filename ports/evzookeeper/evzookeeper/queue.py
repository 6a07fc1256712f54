# vim: tabstop=4 shiftwidth=4 softtabstop=4

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

"""A FIFO queue shared by any number of producers and consumers.

ZooKeeper data::

    /basepath = "ZKQueue"
    /basepath/item-0000000000 = value   (persistent, sequential)
    /basepath/item-0000000001 = value

enqueue() creates a sequential node; dequeue() takes the lowest-numbered
node that it manages to delete, so each item goes to exactly one consumer,
in the order of enqueue (as the server numbered them).
"""

import logging
import time

from eventlet import event as _event
from eventlet import timeout as _timeout
import zookeeper

import evzookeeper


LOG = logging.getLogger(__name__)

#: The data of a queue's base node.
QUEUE_DATA = "ZKQueue"

_ITEM_PREFIX = "item-"


class ZKQueue(object):
    '''A simple queue model, support concurrent enqueue/dequeue.'''

    def __init__(self, session, basepath, acl=None):
        """
        @param session: a ZKSession object
        @param basepath: the queue's node; created (data "ZKQueue", missing
            parents with empty data) unless it exists.
        @param acl: the ACL of the nodes created (None: the open ACL).
        """
        self._session = session
        self.basepath = basepath
        self.acl = acl
        evzookeeper.ensure_path(session, basepath, QUEUE_DATA, acl)

    def enqueue(self, val):
        '''Append ``val`` (bytes, or str sent as UTF-8); return the path of
        the item's node.'''
        return self._session.create(self.basepath + "/" + _ITEM_PREFIX, val,
                                    self.acl, zookeeper.SEQUENCE)

    def _get_and_delete(self, path):
        '''Take the item at ``path``: its data, or None when another
        consumer took it first.'''
        try:
            (data, stat) = self._session.get(path, None)
            self._session.delete(path, stat["version"])
            return data
        except zookeeper.NoNodeException:
            return None

    def _take_first(self, children):
        for child in sorted(children):
            if not child.startswith(_ITEM_PREFIX):
                continue
            data = self._get_and_delete(self.basepath + "/" + child)
            if data is not None:
                return True, data
        return False, None

    def dequeue(self, timeout=None):
        '''Remove and return the oldest item (bytes).

        blocking for 'timeout' seconds (in all);
        if timeout is None, block indefinitely (by default)
        if timeout is 0, equivalent to non-blocking

        @raise eventlet.timeout.Timeout: nothing came in time (as 0.4.0).
        '''
        deadline = None if timeout is None else time.monotonic() + timeout
        # A first look without a watch: a busy queue then arms none.
        found, data = self._take_first(
            self._session.get_children(self.basepath))
        while not found:
            changed = _event.Event()

            def watcher(_handle, _event_type, _state, _path, changed=changed):
                if not changed.ready():
                    changed.send()
            found, data = self._take_first(
                self._session.get_children(self.basepath, watcher))
            if found:
                break
            remaining = None
            if deadline is not None:
                remaining = max(deadline - time.monotonic(), 0)
            with _timeout.Timeout(remaining):
                changed.wait()
        return data
