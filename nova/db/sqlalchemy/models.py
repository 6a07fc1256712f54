# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""SQLAlchemy models of nova's tables."""

from sqlalchemy import Boolean, Column, DateTime, Integer, String

try:
    from sqlalchemy.orm import declarative_base
except ImportError:
    from sqlalchemy.ext.declarative import declarative_base

from nova.openstack.common import timeutils

BASE = declarative_base()


class NovaBase(object):
    """Rows that read like dicts, with soft delete and timestamps."""

    created_at = Column(DateTime, default=timeutils.utcnow)
    updated_at = Column(DateTime, onupdate=timeutils.utcnow)
    deleted_at = Column(DateTime)
    deleted = Column(Integer, default=0)

    def __getitem__(self, key):
        return getattr(self, key)

    def __setitem__(self, key, value):
        setattr(self, key, value)

    def get(self, key, default=None):
        return getattr(self, key, default)

    def update(self, values):
        for k, v in values.items():
            setattr(self, k, v)

    def __contains__(self, key):
        return hasattr(self, key)


class Service(BASE, NovaBase):
    """A nova service (binary) running on a host."""

    __tablename__ = 'services'
    id = Column(Integer, primary_key=True)
    host = Column(String(255))
    binary = Column(String(255))
    topic = Column(String(255))
    availability_zone = Column(String(255), default='nova')
    report_count = Column(Integer, nullable=False, default=0)
    disabled = Column(Boolean, default=False)
