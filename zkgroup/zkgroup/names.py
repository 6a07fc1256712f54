"""What ZooKeeper accepts as one node name.

A topic and a host each become one znode name.  ZooKeeper's path
validation (PathUtils.validatePath) refuses NUL, U+0001-U+001F,
U+007F-U+009F, U+D800-U+F8FF and U+FFF0-U+FFFF; it checks Java's UTF-16
units, so every character outside the Basic Multilingual Plane (an emoji)
is refused too.  A name also cannot contain "/" or be "." or "..".
Checked before anything is written, so that a bad name fails at start
with a message instead of retrying for ever.
"""


class InvalidName(ValueError):
    def __init__(self, kind, name, reason):
        ValueError.__init__(self, 'invalid %s %r for ZooKeeper: %s'
                            % (kind, name, reason))
        self.kind = kind
        self.name = name


def _refused(char):
    code = ord(char)
    return (code <= 0x1f or 0x7f <= code <= 0x9f or
            0xd800 <= code <= 0xf8ff or code >= 0xfff0)


def check(kind, name):
    """Raise InvalidName unless ``name`` can be a znode name."""
    if not isinstance(name, str) or not name:
        raise InvalidName(kind, name, 'it must be a non-empty string')
    if '/' in name or name in ('.', '..'):
        raise InvalidName(kind, name, 'a znode name cannot contain "/" or '
                          'be "." or ".."')
    refused = [c for c in name if _refused(c)]
    if refused:
        raise InvalidName(kind, name, 'ZooKeeper refuses the character %s'
                          % ', '.join('U+%04X' % ord(c) for c in refused[:3]))
    return name
