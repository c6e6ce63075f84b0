/* async-gobject.h: the one header to include
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#define AG_INSIDE

#include <glib-object.h>
#include <gio/gio.h>

#include "ag-version-macros.h"
#include "ag-version.h"
#include "ag-types.h"
#include "ag-error.h"
#include "ag-enum-types.h"
#include "ag-pending.h"
#include "ag-caller.h"
#include "ag-as-completed.h"
#include "ag-pending-tracker.h"
#include "ag-pending-manager.h"
#include "ag-pending-group.h"

#undef AG_INSIDE
