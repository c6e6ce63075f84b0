#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Smoke test: the typelib loads and a pending can be created through it.

import gi

gi.require_version('AsyncGObject', '1')
from gi.repository import AsyncGObject as Ag  # noqa: E402

pending = Ag.Pending.new()
assert pending is not None
assert isinstance(pending, Ag.Pending)
print('ok: AsyncGObject', Ag.get_major_version(), Ag.get_minor_version(),
      Ag.get_micro_version())
