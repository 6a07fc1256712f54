"""zookeeper-cffi: the ZooKeeper C client for Python 3 with zkpython's API.

The package ``zookeeper`` binds libzookeeper_mt (ZooKeeper C client 3.8;
Debian/Ubuntu package ``libzookeeper-mt2``) through cffi in ABI mode:
nothing is compiled at install time, the library is loaded at import.  The
build writes the C declarations in cffi's parsed form
(zookeeper/_abi_<digest>.py, see zookeeper/_cdef.py), which spares every
import the parse.
"""

import os

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, 'README.rst')) as f:
    README = f.read()

setup(
    name='zookeeper-cffi',
    version='0.1.0',
    description='ZooKeeper C client binding (zkpython API) for Python 3, '
                'via cffi',
    long_description=README,
    long_description_content_type='text/x-rst',
    license='Apache License, Version 2.0',
    packages=['zookeeper'],
    cffi_modules=['zookeeper/_cdef.py:ffibuilder'],
    python_requires='>=3.9',
    # the first cffi with wheels for 3.12 and for 3.13 (for an older one pip
    # would compile cffi there, which needs gcc and the Python headers)
    install_requires=['cffi>=1.12',
                      'cffi>=1.16; python_version >= "3.12"',
                      'cffi>=1.17; python_version >= "3.13"'],
    zip_safe=False,
    classifiers=[
        'License :: OSI Approved :: Apache Software License',
        'Operating System :: POSIX :: Linux',
        'Programming Language :: Python :: 3',
        'Programming Language :: Python :: 3.9',
        'Programming Language :: Python :: 3.10',
        'Programming Language :: Python :: 3.11',
        'Programming Language :: Python :: 3.12',
        'Programming Language :: Python :: 3.13',
        'Topic :: System :: Distributed Computing',
    ],
)
