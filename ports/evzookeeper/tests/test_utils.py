"""evzookeeper.utils: 0.4.0's PipeCondition, StatePipeCondition and
TimeoutGreenPipe, and the port's EventQueue.

Notifications come from real OS threads (as the C client's completions
did in 0.4.0); every wait that could hang is bounded by a timeout.
"""

import os
import tempfile
import threading
import time
import unittest

import eventlet
from eventlet import timeout as _timeout
import zookeeper

import evzookeeper
from evzookeeper import utils

import evzk_fixture as fx


def in_os_thread(func, *args):
    """Run ``func`` on a real OS thread and join it (bounded)."""
    thread = threading.Thread(target=func, args=args, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), 'the OS thread hangs'


def later_in_os_thread(delay, func, *args):
    """Run ``func`` on a real OS thread after ``delay`` s (time.sleep: not
    the hub's)."""
    def run():
        time.sleep(delay)
        func(*args)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


class TestPipeCondition(unittest.TestCase):

    def test_notify_from_an_os_thread_wakes_a_green_waiter(self):
        pc = utils.PipeCondition()
        ticker = fx.Ticker()
        try:
            thread = later_in_os_thread(0.3, pc.notify)
            started = time.monotonic()
            self.assertIsNone(pc.wait(5))
            waited = time.monotonic() - started
            thread.join(5)
            self.assertTrue(0.25 <= waited < 2, waited)
            # the hub ran while the green thread waited
            self.assertTrue(ticker.max_gap < 0.2, ticker.max_gap)
            self.assertTrue(ticker.ticks > 10, ticker.ticks)
        finally:
            ticker.stop()
        pc.close()

    def test_notifications_are_counted(self):
        # each notify lets one wait return, as each byte of 0.4.0's pipe
        pc = utils.PipeCondition()
        in_os_thread(lambda: [pc.notify() for _i in range(3)])
        pc.notify()  # and from the hub's own thread
        for _i in range(4):
            pc.wait(2)
        self.assertRaises(_timeout.Timeout, pc.wait, 0.1)

    def test_timeout_times_out(self):
        pc = utils.PipeCondition()
        started = time.monotonic()
        self.assertRaises(_timeout.Timeout, pc.wait, 0.3)
        self.assertTrue(0.25 <= time.monotonic() - started < 1.5)
        # 0: do not block
        started = time.monotonic()
        self.assertRaises(_timeout.Timeout, pc.wait, 0)
        self.assertTrue(time.monotonic() - started < 0.1)
        pc.notify()
        self.assertIsNone(pc.wait(0))

    def test_close_fails_waiters_and_ignores_notify(self):
        pc = utils.PipeCondition()

        def waiter():
            try:
                pc.wait(5)
            except utils.PipeConditionClosedError as exc:
                return exc
        waiters = [eventlet.spawn(waiter) for _i in range(2)]
        eventlet.sleep(0.05)
        eventlet.spawn_after(0.1, pc.close)
        for thread in waiters:
            with _timeout.Timeout(5):
                self.assertIsInstance(thread.wait(),
                                      utils.PipeConditionClosedError)
        self.assertTrue(pc.closed)
        pc.notify()
        pc.notify(quiet=False)
        in_os_thread(pc.notify)
        self.assertRaises(utils.PipeConditionClosedError, pc.wait, 1)
        pc.close()  # twice is fine

    def test_close_from_an_os_thread(self):
        pc = utils.PipeCondition()
        later_in_os_thread(0.1, pc.close)
        with _timeout.Timeout(5):
            self.assertRaises(utils.PipeConditionClosedError, pc.wait)

    def test_wait_on_another_os_thread_is_refused(self):
        pc = utils.PipeCondition()
        errors = []

        def wait():
            try:
                pc.wait(0)
            except RuntimeError as exc:
                errors.append(exc)
        in_os_thread(wait)
        self.assertEqual(len(errors), 1)

    def test_no_descriptor_per_condition(self):
        # 0.4.0 opened a pipe per object (and leaked those never closed)
        utils.PipeCondition().close()  # the thread's bridge, once
        before = fx.open_fds()
        conditions = [utils.StatePipeCondition() for _i in range(500)]
        in_os_thread(lambda: [pc.set_and_notify('x')
                              for pc in conditions[:250]])
        for pc in conditions[:250]:
            self.assertEqual(pc.wait_and_get(2), 'x')
        self.assertEqual(fx.open_fds(), before)
        conditions = None  # dropped without close(): nothing to leak
        self.assertEqual(fx.open_fds(), before)

    def test_notify_before_anyone_waits_from_many_threads(self):
        pc = utils.PipeCondition()
        threads = [threading.Thread(target=pc.notify, daemon=True)
                   for _i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
        for _i in range(20):
            pc.wait(5)
        self.assertRaises(_timeout.Timeout, pc.wait, 0.05)


class TestStatePipeCondition(unittest.TestCase):

    def test_late_waiter_gets_the_newest_state(self):
        spc = utils.StatePipeCondition()
        in_os_thread(lambda: [spc.set_and_notify(i) for i in range(5)])
        eventlet.sleep(0.05)
        # not the oldest of a queue: the last one, every time
        self.assertEqual(spc.wait_and_get(2), 4)
        spc.set_and_notify('newest')
        self.assertEqual(spc.wait_and_get(2), 'newest')
        # (the earlier notifications are still counted, as in 0.4.0)
        self.assertEqual(spc.wait_and_get(2), 'newest')

    def test_waiter_blocked_before_the_states_came(self):
        spc = utils.StatePipeCondition()
        later_in_os_thread(0.2, lambda: [spc.set_and_notify(i)
                                         for i in range(3)])
        state = spc.wait_and_get(5)
        self.assertIn(state, (0, 1, 2))
        eventlet.sleep(0.1)
        self.assertEqual(spc.wait_and_get(2), 2)

    def test_wait_and_get_timeout_and_close(self):
        spc = utils.StatePipeCondition()
        self.assertRaises(_timeout.Timeout, spc.wait_and_get, 0.1)
        spc.set_and_notify('s')
        spc.close()
        self.assertRaises(utils.PipeConditionClosedError, spc.wait_and_get)

    def test_as_a_connection_callback(self):
        # 0.4.0's use: init_cbs / add_connection_callback
        server = fx.shared_server()
        spc = utils.StatePipeCondition()
        session = evzookeeper.ZKSession(server.address, timeout=10,
                                        recv_timeout=fx.RECV_TIMEOUT,
                                        init_cbs=[spc])
        try:
            eventlet.sleep(0.2)
            handle, event_type, state, path = spc.wait_and_get(5)
            self.assertEqual((event_type, state),
                             (zookeeper.SESSION_EVENT,
                              zookeeper.CONNECTED_STATE))
            self.assertEqual(handle, session._zhandle)
        finally:
            session.close()
            spc.close()


class TestEventQueue(unittest.TestCase):

    def test_every_state_in_order(self):
        queue = utils.EventQueue()
        for i in range(3):
            queue.set_and_notify(i)
        self.assertEqual(queue.wait_and_get(1), 0)
        self.assertEqual(queue.drain(), [1, 2])
        self.assertRaises(_timeout.Timeout, queue.wait_and_get, 0.05)
        queue.set_and_notify('last')
        queue.close()
        self.assertEqual(queue.wait_and_get(1), 'last')
        self.assertRaises(utils.PipeConditionClosedError,
                          queue.wait_and_get, 1)


class TestTimeoutGreenPipe(unittest.TestCase):

    def setUp(self):
        self.fds_before = fx.open_fds()
        self.rfd, self.wfd = os.pipe()

    def tearDown(self):
        for fd in (self.rfd, self.wfd):
            if fd is None:
                continue  # the test handed it over
            try:
                os.close(fd)
            except OSError:
                pass

    def test_read_times_out(self):
        pipe = utils.TimeoutGreenPipe(self.rfd, 'rb', 0)
        self.rfd = None
        ticker = fx.Ticker()
        try:
            pipe.set_timeout(0.3)
            started = time.monotonic()
            self.assertRaises(_timeout.Timeout, pipe.read, 1)
            waited = time.monotonic() - started
            self.assertTrue(0.25 <= waited < 1.5, waited)
            self.assertTrue(ticker.max_gap < 0.2, ticker.max_gap)
        finally:
            ticker.stop()
        os.write(self.wfd, b'XY')
        self.assertEqual(pipe.read(1), b'X')
        self.assertEqual(pipe.read(5), b'Y')  # unbuffered: what is there
        # a writer in an OS thread wakes a reader without a timeout
        pipe.set_timeout(None)
        later_in_os_thread(0.1, os.write, self.wfd, b'Z')
        with _timeout.Timeout(5):
            self.assertEqual(pipe.read(1), b'Z')
        pipe.close()
        self.assertTrue(pipe.closed)

    def test_text_lines_and_eof(self):
        reader = utils.TimeoutGreenPipe(self.rfd, 'r')
        writer = utils.TimeoutGreenPipe(self.wfd, 'w', 1)
        self.rfd = self.wfd = None
        reader.set_timeout(5)
        writer.write('hello\nworld\n')
        self.assertEqual(reader.readline(), 'hello\n')
        writer.close()
        self.assertEqual(reader.read(), 'world\n')
        reader.close()

    def test_from_a_file_object_and_a_path(self):
        pipe = utils.TimeoutGreenPipe(os.fdopen(self.rfd, 'rb'), 'rb')
        self.rfd = None
        os.write(self.wfd, b'abc')
        pipe.set_timeout(2)
        self.assertEqual(pipe.read(3), b'abc')
        pipe.close()
        with tempfile.NamedTemporaryFile() as f:
            f.write(b'on disk')
            f.flush()
            with utils.TimeoutGreenPipe(f.name, 'rb') as from_path:
                self.assertEqual(from_path.read(), b'on disk')
                self.assertEqual(from_path.name, f.name)

    def test_bad_arguments(self):
        self.assertRaises(TypeError, utils.TimeoutGreenPipe, 1.5)
        file_object = os.fdopen(os.dup(self.rfd), 'rb')
        try:
            self.assertRaises(ValueError, utils.TimeoutGreenPipe,
                              file_object, 'w')
        finally:
            file_object.close()
        self.assertRaises(ValueError, utils.TimeoutGreenPipe,
                          os.dup(self.rfd), 'r', 0)

    def test_close_releases_the_descriptor(self):
        pipes = [utils.TimeoutGreenPipe(os.dup(self.rfd), 'rb')
                 for _i in range(5)]
        for pipe in pipes:
            pipe.close()
        os.close(self.rfd)
        os.close(self.wfd)
        self.rfd = self.wfd = None
        self.assertEqual(fx.open_fds(), self.fds_before)
