"""evzookeeper in processes that called eventlet.monkey_patch().

The rest of the suite runs unpatched; here evzk_monkey_script.py runs in a
subprocess, with monkey_patch() before the imports and after them.
"""

import os
import subprocess
import unittest

import evzk_fixture as fx

HERE = os.path.dirname(os.path.abspath(__file__))


class TestMonkeyPatched(unittest.TestCase):

    def run_script(self, order):
        server = fx.shared_server()
        proc = subprocess.run(
            [fx.python(), '-W', 'ignore',
             os.path.join(HERE, 'evzk_monkey_script.py'), server.address,
             order],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        output = proc.stdout.decode('utf-8', 'replace')
        self.assertEqual(proc.returncode, 0, output)
        self.assertEqual(output.strip().splitlines()[-1], 'OK', output)

    def test_monkey_patch_first(self):
        self.run_script('first')

    def test_monkey_patch_after_import(self):
        self.run_script('last')
