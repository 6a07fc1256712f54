#!/usr/bin/env python
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

"""evzookeeper for Python 3: the API of evzookeeper 0.4.0 on today's eventlet.

Needs a ``zookeeper`` module with the zkpython API (this project's binding,
ports/zookeeper, installs one).
"""

from setuptools import setup

setup(
    name='evzookeeper-py3',
    version='0.4.0.post1',
    description='ZooKeeper sessions and membership recipes for eventlet '
                '(Python 3 port of evzookeeper 0.4.0)',
    license='Apache License (2.0)',
    keywords='zookeeper eventlet',
    packages=['evzookeeper'],
    python_requires='>=3.9',
    # zookeeper-cffi is on no package index: name it by path in the same
    # pip command (pip install ./ports/zookeeper ./ports/evzookeeper); alone,
    # this one stops with "No matching distribution found for
    # zookeeper-cffi" rather than install something that cannot import.
    # eventlet: the first release that imports on 3.12 (0.33 needs
    # distutils) and on 3.13 (0.37 lacks start_joinable_thread)
    install_requires=['eventlet',
                      'eventlet>=0.34; python_version >= "3.12"',
                      'eventlet>=0.38; python_version >= "3.13"',
                      'zookeeper-cffi'],
    classifiers=[
        'Programming Language :: Python :: 3',
        'Programming Language :: Python :: 3 :: Only',
        'License :: OSI Approved :: Apache Software License',
    ],
)
