"""evzookeeper.queue.ZKQueue against a real ZooKeeper server.

Order, several producers and consumers in several sessions, blocking and
timed dequeue, and 0.4.0's examples/queue.py (a producer that enqueues ten
values a little apart and "EOF", a consumer that dequeues until "EOF").
"""

import time
import unittest

import eventlet
from eventlet import timeout as _timeout
import zookeeper

import evzookeeper
from evzookeeper import queue

import evzk_fixture as fx


class QueueTestCase(unittest.TestCase):

    def setUp(self):
        self.server = fx.shared_server()
        self.sessions = []
        self.base = fx.unique_path()

    def tearDown(self):
        for session in self.sessions:
            session.close()

    def session(self):
        session = evzookeeper.ZKSession(self.server.address, timeout=10,
                                        recv_timeout=fx.RECV_TIMEOUT)
        self.sessions.append(session)
        return session


class TestZKQueue(QueueTestCase):

    def test_fifo_order_and_the_nodes(self):
        s = self.session()
        q = queue.ZKQueue(s, self.base, [evzookeeper.ZOO_OPEN_ACL_UNSAFE])
        self.assertEqual(q.basepath, self.base)
        self.assertEqual(s.get(self.base)[0], b'ZKQueue')
        paths = [q.enqueue(value) for value in ('Zoo', b'Keeper', 'third')]
        for path in paths:
            self.assertTrue(path.startswith(self.base + '/item-'), path)
        self.assertEqual(paths, sorted(paths))
        self.assertEqual(sorted(s.get_children(self.base)),
                         [p.rsplit('/', 1)[1] for p in paths])
        self.assertEqual([q.dequeue(1) for _i in range(3)],
                         [b'Zoo', b'Keeper', b'third'])
        self.assertEqual(s.get_children(self.base), [])  # taken = deleted

    def test_existing_queue_is_reused(self):
        s = self.session()
        first = queue.ZKQueue(s, self.base)
        first.enqueue('kept')
        second = queue.ZKQueue(self.session(), self.base)
        self.assertEqual(second.dequeue(1), b'kept')

    def test_missing_parents_are_created(self):
        s = self.session()
        q = queue.ZKQueue(s, self.base + '/a/b')
        self.assertEqual(s.get(self.base + '/a')[0], b'')
        q.enqueue('x')
        self.assertEqual(q.dequeue(0), b'x')

    def test_acl_applies_to_the_items(self):
        s = self.session()
        s.add_auth('digest', 'queue:secret')
        acl = [{'perms': zookeeper.PERM_ALL, 'scheme': 'auth', 'id': ''}]
        q = queue.ZKQueue(s, self.base, acl)
        path = q.enqueue('private')
        self.assertEqual(s.get_acl(path)[0][0]['scheme'], 'digest')
        stranger = self.session()
        self.assertRaises(zookeeper.NoAuthException, stranger.get, path)
        self.assertEqual(q.dequeue(1), b'private')

    def test_dequeue_timeout(self):
        q = queue.ZKQueue(self.session(), self.base)
        started = time.monotonic()
        self.assertRaises(_timeout.Timeout, q.dequeue, 0.3)
        self.assertTrue(0.25 <= time.monotonic() - started < 1.5)
        # 0: non-blocking
        started = time.monotonic()
        self.assertRaises(_timeout.Timeout, q.dequeue, 0)
        self.assertTrue(time.monotonic() - started < 0.5)
        q.enqueue('now')
        self.assertEqual(q.dequeue(0), b'now')

    def test_blocked_dequeue_wakes_on_an_enqueue_of_another_session(self):
        consumer = queue.ZKQueue(self.session(), self.base)
        producer = queue.ZKQueue(self.session(), self.base)
        ticker = fx.Ticker()
        try:
            waiter = eventlet.spawn(consumer.dequeue)
            eventlet.sleep(0.3)
            self.assertFalse(waiter.dead)
            producer.enqueue('wake up')
            with _timeout.Timeout(5):
                self.assertEqual(waiter.wait(), b'wake up')
            self.assertTrue(ticker.max_gap < 0.2, ticker.max_gap)
        finally:
            ticker.stop()

    def test_several_consumers_each_item_once(self):
        producers = [queue.ZKQueue(self.session(), self.base)
                     for _i in range(2)]
        consumers = [queue.ZKQueue(self.session(), self.base)
                     for _i in range(3)]
        count = 60
        got = {index: [] for index in range(len(consumers))}

        def consume(index):
            while True:
                value = consumers[index].dequeue(10)
                if value == b'EOF':
                    return
                got[index].append(value)

        def produce(index):
            for i in range(count // 2):
                producers[index].enqueue('p%d-%03d' % (index, i))
                if i % 10 == 0:
                    eventlet.sleep(0.01)

        threads = [eventlet.spawn(consume, i) for i in range(len(consumers))]
        for thread in [eventlet.spawn(produce, i) for i in range(2)]:
            with _timeout.Timeout(30):
                thread.wait()
        for _thread in threads:
            producers[0].enqueue('EOF')
        for thread in threads:
            with _timeout.Timeout(30):
                thread.wait()
        values = sum(got.values(), [])
        self.assertEqual(len(values), count)
        self.assertEqual(sorted(values),
                         sorted(('p%d-%03d' % (p, i)).encode()
                                for p in range(2) for i in range(count // 2)))
        # each consumer got each producer's values in their order
        for taken in got.values():
            for p in range(2):
                mine = [v for v in taken if v.startswith(b'p%d' % p)]
                self.assertEqual(mine, sorted(mine))

    def test_example_queue_demo(self):
        # 0.4.0's examples/queue.py, with a shorter pause
        q = queue.ZKQueue(self.session(), self.base,
                          [evzookeeper.ZOO_OPEN_ACL_UNSAFE])
        q.enqueue("Zoo")
        q.enqueue("Keeper")
        received = []

        def dequeue_thread():
            while True:
                value = q.dequeue()
                received.append(value)
                if value == b"EOF":
                    return

        def enqueue_thread():
            for i in range(10):
                q.enqueue("value%i" % (i,))
                eventlet.sleep(0.05)
            q.enqueue("EOF")

        dt = eventlet.spawn(dequeue_thread)
        et = eventlet.spawn(enqueue_thread)
        with _timeout.Timeout(20):
            et.wait()
            dt.wait()
        self.assertEqual(received, [b'Zoo', b'Keeper'] +
                         [b'value%d' % i for i in range(10)] + [b'EOF'])

    def test_busy_queue_costs_no_descriptor_and_no_watch(self):
        # 0.4.0 opened a pipe per dequeue (never closed) and armed a child
        # watch each time
        s = self.session()
        q = queue.ZKQueue(s, self.base)
        for i in range(20):
            q.enqueue('v%d' % i)
        counter = getattr(getattr(zookeeper, '_client', None),
                          '_context_count', lambda: 0)
        fds, contexts = fx.open_fds(), counter()
        self.assertEqual([q.dequeue(0) for _i in range(20)],
                         [b'v%d' % i for i in range(20)])
        self.assertEqual(fx.open_fds(), fds)
        self.assertEqual(counter(), contexts)
