/* ag-util-private.h: helpers shared by the classes of the library
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

void ag_notify_on_context (gpointer      object,
                           GMainContext *context,
                           GParamSpec   *pspec,
                           gint         *queued);
void ag_notify_here       (gpointer      object,
                           GParamSpec   *pspec,
                           gint         *queued);

G_END_DECLS
