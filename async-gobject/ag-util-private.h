/* ag-util-private.h: helpers shared by the classes of the library
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* The library's thread-locals, read several times per job: compiler
 * thread-locals, a short call through a TLS descriptor (see
 * async-gobject/meson.build; else __tls_get_addr ()), where g_private_get ()
 * is a call and a pthread_getspecific (). Not the initial-exec model: a
 * library that PyGObject and GJS dlopen () would then take glibc's static
 * TLS reserve, which other libraries may have used up, and fail to load. */
#define AG_THREAD_LOCAL __thread

void ag_notify_on_context (gpointer      object,
                           GMainContext *context,
                           GParamSpec   *pspec,
                           gint         *queued);
void ag_notify_here       (gpointer      object,
                           GParamSpec   *pspec,
                           gint         *queued);

G_END_DECLS
