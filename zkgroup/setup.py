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

"""zkgroup: self-healing ZooKeeper sessions and group membership, under
native threads or eventlet, and the ZooKeeper servicegroup driver for
today's Nova (installed into Nova by tools/patch_nova.py).
"""

from setuptools import setup

setup(
    name='zkgroup',
    version='0.1.0',
    description='ZooKeeper membership for Nova 34 servicegroups, threading '
                'or eventlet',
    license='Apache License (2.0)',
    packages=['zkgroup'],
    python_requires='>=3.9',
    # zookeeper-cffi is on no index: pip install ./ports/zookeeper
    # ./ports/evzookeeper ./zkgroup.  evzookeeper is only imported in
    # eventlet mode (for its hub bridge).
    install_requires=['zookeeper-cffi'],
    extras_require={'eventlet': ['evzookeeper-py3']},
    # Grizzly's nova-manage service list, for Nova 34 (which has none)
    entry_points={'console_scripts': [
        'nova-zk-service-list = zkgroup.service_list:main']},
)
