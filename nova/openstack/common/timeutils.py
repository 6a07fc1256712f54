# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Time helpers that tests can freeze (set_time_override)."""

import datetime

PERFECT_TIME_FORMAT = '%Y-%m-%dT%H:%M:%S.%f'

utcnow_override = None


def utcnow():
    """The current UTC time as a naive datetime, or the override."""
    if utcnow_override is not None:
        return utcnow_override
    return datetime.datetime.utcnow()


def set_time_override(override_time=None):
    global utcnow_override
    utcnow_override = override_time or datetime.datetime.utcnow()


def advance_time_seconds(seconds):
    global utcnow_override
    utcnow_override = utcnow_override + datetime.timedelta(seconds=seconds)


def clear_time_override():
    global utcnow_override
    utcnow_override = None


def parse_strtime(timestr, fmt=PERFECT_TIME_FORMAT):
    return datetime.datetime.strptime(timestr, fmt)


def strtime(at=None, fmt=PERFECT_TIME_FORMAT):
    return (at or utcnow()).strftime(fmt)


def total_seconds(delta):
    return delta.total_seconds()


def is_older_than(before, seconds):
    return utcnow() - before > datetime.timedelta(seconds=seconds)
