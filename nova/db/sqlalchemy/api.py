# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""The SQLAlchemy backend of nova.db.api."""

import functools

from sqlalchemy import exc as sa_exc

from nova import exception
from nova.db.sqlalchemy import models
from nova.db.sqlalchemy.session import get_session
from nova.openstack.common.gettextutils import _
from nova.openstack.common import timeutils


def _wrap_db_error(f):
    """Turn driver errors into DBError that says what to do."""
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except sa_exc.OperationalError as e:
            text = str(e)
            if 'no such table' in text or "doesn't exist" in text:
                raise exception.DBError(reason=_(
                    'the schema is missing; run "nova-manage db sync" '
                    'first (%s)') % text.splitlines()[0])
            raise exception.DBError(reason=text.splitlines()[0])
    return wrapper


def _service_query(session, context, read_deleted=None):
    query = session.query(models.Service)
    read_deleted = read_deleted or getattr(context, 'read_deleted', 'no')
    if read_deleted == 'no':
        query = query.filter(models.Service.deleted == 0)
    elif read_deleted == 'only':
        query = query.filter(models.Service.deleted != 0)
    return query


@_wrap_db_error
def service_get(context, service_id):
    session = get_session()
    try:
        result = _service_query(session, context).filter_by(
            id=service_id).first()
    finally:
        session.close()
    if not result:
        raise exception.ServiceNotFound(service_id=service_id)
    return result


@_wrap_db_error
def service_get_by_args(context, host, binary):
    session = get_session()
    try:
        result = _service_query(session, context).filter_by(
            host=host, binary=binary).first()
    finally:
        session.close()
    if not result:
        raise exception.HostBinaryNotFound(host=host, binary=binary)
    return result


@_wrap_db_error
def service_get_by_host_and_topic(context, host, topic):
    session = get_session()
    try:
        return _service_query(session, context).filter_by(
            host=host, topic=topic, disabled=False).first()
    finally:
        session.close()


@_wrap_db_error
def service_get_all(context, disabled=None):
    session = get_session()
    try:
        query = _service_query(session, context)
        if disabled is not None:
            query = query.filter_by(disabled=disabled)
        return query.order_by(models.Service.id).all()
    finally:
        session.close()


@_wrap_db_error
def service_get_all_by_topic(context, topic):
    session = get_session()
    try:
        return _service_query(session, context, read_deleted='no').filter_by(
            disabled=False, topic=topic).order_by(models.Service.id).all()
    finally:
        session.close()


@_wrap_db_error
def service_get_all_by_host(context, host):
    session = get_session()
    try:
        return _service_query(session, context, read_deleted='no').filter_by(
            host=host).order_by(models.Service.id).all()
    finally:
        session.close()


@_wrap_db_error
def service_create(context, values):
    service_ref = models.Service()
    service_ref.update(values)
    session = get_session()
    try:
        session.add(service_ref)
        session.commit()
    finally:
        session.close()
    return service_ref


@_wrap_db_error
def service_update(context, service_id, values):
    session = get_session()
    try:
        service_ref = _service_query(session, context).filter_by(
            id=service_id).first()
        if not service_ref:
            raise exception.ServiceNotFound(service_id=service_id)
        service_ref.update(values)
        session.commit()
        return service_ref
    finally:
        session.close()


@_wrap_db_error
def service_destroy(context, service_id):
    session = get_session()
    try:
        service_ref = _service_query(session, context).filter_by(
            id=service_id).first()
        if not service_ref:
            raise exception.ServiceNotFound(service_id=service_id)
        service_ref.deleted = service_ref.id
        service_ref.deleted_at = timeutils.utcnow()
        session.commit()
    finally:
        session.close()
