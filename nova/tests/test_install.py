# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""The documented install commands, run as documented in fresh virtualenvs.

Every code-block line ``pip install ...`` of README.md and of the ports'
READMEs runs, word for word, at the top of a copy of the checkout (the files
git tracks or would track, as they are now) in a new virtualenv of the
Python that runs the tests, with that venv's own pip (the one a user gets).
The copy keeps pip's in-tree builds (build/, *.egg-info) out of the shared
work tree, where other test runs on other Pythons may build at the same
time.  Then, from outside the checkout so that nothing is imported from the
source tree, what the command installs must import: the binding, the port,
the zk driver with both of them found, and nova's commands.  The ports are on
no package index (issue 10: ``pip install '.[zk]'`` could not work), so this
is what keeps each documented command true.  Needs the index that pip is set
up with, for eventlet, cffi and the rest; with a warm pip cache a command
takes seconds.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

from nova import test

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
DOCS = ['README.md', 'ports/zookeeper/README.rst',
        'ports/evzookeeper/README.rst', 'doc/nova34.md']
# Documented commands that install from the package index only, and what
# runs them instead (a fresh Nova here would download for minutes).
ELSEWHERE = {
    'pip install nova==34.0.0':
        'the Nova 34 lane (tools/nova34/build_venv.sh)',
}
# An indented code line, as both Markdown and reST blocks have them; inline
# mentions (`pip install '.[zk]'`, the failure the evzookeeper README
# describes) are not commands to run.
COMMAND = re.compile(r'^    (pip install .*)$')

# What each path installs, and the code that proves it works once installed.
CHECKS = {
    'ports/zookeeper': [
        'import zookeeper',
        'assert zookeeper.ZOO_OPEN_ACL_UNSAFE',
        # the build wrote the parsed declarations (import: a third)
        'assert zookeeper._ffi.COMPILED, "binding: cdef parsed at import"',
    ],
    'ports/evzookeeper': [
        'import evzookeeper, evzookeeper.membership, evzookeeper.queue',
    ],
    'zkgroup': [
        # the driver module itself needs a Nova 34 (the Nova 34 lane)
        'import zkgroup.session, zkgroup.membership, zkgroup.concurrency',
        'from zkgroup import concurrency',
        'concurrency.get("eventlet"); concurrency.get("threading")',
    ],
    '.': [
        # Grizzly 2013.1's driver could not find its libraries: check that
        # this one does, not only that it imports.
        'from nova.servicegroup.drivers import zk',
        'assert zk.zookeeper is not None, "zk driver: no zookeeper"',
        'assert zk.evzookeeper is not None, "zk driver: no evzookeeper"',
        'assert zk.membership is not None, "zk driver: no membership"',
        'from nova.servicegroup.drivers import db',
    ],
}
EXTRA_CHECKS = {'mc': ['import memcache']}
SCRIPTS = ['nova-manage', 'nova-compute']
TIMEOUT = 600  # a cold pip cache downloads eventlet, SQLAlchemy, oslo.config


def documented_commands():
    """[(doc, command)] for every pip install line of the docs."""
    found = []
    for doc in DOCS:
        with open(os.path.join(ROOT, doc)) as f:
            for line in f:
                m = COMMAND.match(line.rstrip('\n'))
                if m:
                    command = ' '.join(shlex.split(m.group(1),
                                                   comments=True))
                    if command not in ELSEWHERE:
                        found.append((doc, command))
    return found


def targets(command):
    """The (path, extras) that a pip install command names, as CHECKS keys."""
    out = []
    for word in shlex.split(command)[2:]:
        if word.startswith('-'):
            raise ValueError('%r: an option; say here what it means' % word)
        m = re.match(r'^(.*?)(?:\[([^\]]*)\])?$', word)
        path = os.path.normpath(m.group(1))
        extras = [e.strip() for e in (m.group(2) or '').split(',')
                  if e.strip()]
        out.append((path, extras))
    return out


class DocumentedInstallTestCase(test.TestCase):

    TIMEOUT_SECS = 0  # pip's own timeouts apply; see TIMEOUT

    def test_every_package_has_a_documented_command(self):
        commands = documented_commands()
        per_doc = set(doc for doc, _ in commands)
        self.assertEqual(set(DOCS), per_doc,
                         'a README without a pip install block')
        named = set(path for _, c in commands for path, _ in targets(c))
        self.assertEqual(set(CHECKS), named)

    def test_documented_commands_in_fresh_venvs(self):
        commands = documented_commands()
        self.assertTrue(commands)
        failures = []
        for doc, command in commands:
            problem = self._try(command)
            if problem:
                failures.append('%s: %s\n%s' % (doc, command, problem))
        self.assertEqual([], failures, '\n\n'.join(failures))

    def _copy_checkout(self, dest):
        """Copy what a checkout holds (no venvs, no builds) to ``dest``."""
        names = subprocess.check_output(
            ['git', 'ls-files', '-z', '--cached', '--others',
             '--exclude-standard'], cwd=ROOT).decode().split('\0')
        for name in filter(None, names):
            src = os.path.join(ROOT, name)
            if not os.path.isfile(src):
                continue  # deleted in the work tree, not yet in the index
            os.makedirs(os.path.join(dest, os.path.dirname(name)),
                        exist_ok=True)
            shutil.copy2(src, os.path.join(dest, name))

    def _try(self, command):
        """Run command in a new venv; return what went wrong, or None."""
        scratch = tempfile.mkdtemp(dir=self.state_path)
        venv = os.path.join(scratch, 'venv')
        tree = os.path.join(scratch, 'checkout')
        self._copy_checkout(tree)
        # the base interpreter, as a user's python3 -m venv would be
        subprocess.check_call([sys.executable, '-m', 'venv', venv])
        env = dict(os.environ, VIRTUAL_ENV=venv,
                   PATH=os.path.join(venv, 'bin') + os.pathsep +
                   os.environ.get('PATH', ''))
        # run_tests.sh -N puts the checkout on PYTHONPATH: that would make
        # any import succeed
        for var in ('PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP'):
            env.pop(var, None)
        proc = subprocess.run(['bash', '-c', command], cwd=tree, env=env,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=TIMEOUT)
        if proc.returncode:
            return 'exit %d:\n%s' % (proc.returncode,
                                     proc.stdout.decode(errors='replace'))
        python = os.path.join(venv, 'bin', 'python')
        code = []
        for path, extras in targets(command):
            if path not in CHECKS:
                return 'the test does not know what %s installs' % path
            code += CHECKS[path]
            for extra in extras:
                code += EXTRA_CHECKS.get(extra, [])
            if path == '.':
                code += ['import nova',
                         'import os.path',
                         'assert os.path.realpath(nova.__file__)'
                         '.startswith(%r), nova.__file__'
                         % os.path.realpath(venv)]
        # -I and a cwd outside the checkout: import only what pip installed
        proc = subprocess.run([python, '-I', '-c', '\n'.join(code)],
                              cwd=self.state_path, env=env,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=120)
        if proc.returncode:
            return 'imports failed:\n%s' % proc.stdout.decode(errors='replace')
        if any(path == '.' for path, _ in targets(command)):
            for script in SCRIPTS:
                proc = subprocess.run(
                    [os.path.join(venv, 'bin', script), '--help'],
                    cwd=self.state_path, env=env, stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT, timeout=120)
                if proc.returncode or b'usage' not in proc.stdout:
                    return '%s --help: exit %d\n%s' % (
                        script, proc.returncode,
                        proc.stdout.decode(errors='replace'))
        return None
