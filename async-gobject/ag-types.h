/* ag-types.h: forward declarations shared by the async-gobject headers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(AG_INSIDE) && !defined(AG_COMPILATION)
# error "Only <async-gobject/async-gobject.h> can be included directly."
#endif

#include <glib-object.h>

G_BEGIN_DECLS

typedef struct _AgAsCompleted    AgAsCompleted;
typedef struct _AgCaller         AgCaller;
typedef struct _AgPending        AgPending;
typedef struct _AgPendingGroup   AgPendingGroup;
typedef struct _AgPendingManager AgPendingManager;
typedef struct _AgPendingTracker AgPendingTracker;

G_END_DECLS
