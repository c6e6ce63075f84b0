/* ag-util-private.h: helpers shared by the classes of the library
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* The library's thread-locals, read several times per job. With the
 * initial-exec model an access is a load, not a call to __tls_get_addr ();
 * their few dozen bytes fit the static TLS space glibc keeps for libraries
 * loaded later (PyGObject and GJS dlopen () this one). */
#if defined(__GNUC__) && defined(__ELF__)
#define AG_THREAD_LOCAL __thread __attribute__ ((tls_model ("initial-exec")))
#else
#define AG_THREAD_LOCAL __thread
#endif

void ag_notify_on_context (gpointer      object,
                           GMainContext *context,
                           GParamSpec   *pspec,
                           gint         *queued);
void ag_notify_here       (gpointer      object,
                           GParamSpec   *pspec,
                           gint         *queued);

G_END_DECLS
