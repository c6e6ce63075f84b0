#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Smoke test: the typelib loads, a pending can be created through it, and
# the transfer annotations of a caller's children hold.

import gi

gi.require_version('AsyncGObject', '1')
from gi.repository import AsyncGObject as Ag  # noqa: E402

pending = Ag.Pending.new()
assert pending is not None
assert isinstance(pending, Ag.Pending)
print('ok: AsyncGObject', Ag.get_major_version(), Ag.get_minor_version(),
      Ag.get_micro_version())

# A child caller, as a reference of its own (dup_child, transfer full) and
# borrowed (get_child, transfer none): one object, which stays usable once
# its parent stopped and dropped it.
parent = Ag.Caller.new_thread('parent')
child = parent.dup_child('kid')
assert child is parent.get_child('kid')
assert child.get_name() == 'kid'
parent.stop(True)
assert parent.get_stopped().wait_sync(10)
assert child.get_stopped().wait_sync(10)
assert child.get_name() == 'kid'
assert parent.dup_child('kid') is None
print('ok: dup_child')
