/* tsan-shim.c: reference counting as ThreadSanitizer should see it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Linked into the test programs of the ThreadSanitizer build only.
 * Debian's GLib is not instrumented, so TSan cannot see the atomic
 * reference counts of GObjects, main contexts, loops and sources: the
 * thread that drops the last reference (and frees the memory) seems
 * unordered with the threads that used the object before dropping theirs,
 * and every such free is reported as a race.
 *
 * GLib decrements those counts with sequentially consistent atomic
 * read-modify-writes, so each decrement synchronizes with every earlier
 * one. These wrappers tell TSan exactly that (an acquire and a release on
 * the object at each unref) and then call GLib's own function. Nothing is
 * suppressed: a race in our code or the tests is still reported.
 */

#define _GNU_SOURCE
#include <dlfcn.h>

#include <glib-object.h>

void __tsan_acquire (void *addr);
void __tsan_release (void *addr);

#define WRAP_UNREF(name, type)                                              \
  void                                                                      \
  name (type object)                                                        \
  {                                                                         \
    typedef void (*UnrefFunc) (type);                                       \
    static UnrefFunc real;                                                  \
    UnrefFunc unref = __atomic_load_n (&real, __ATOMIC_ACQUIRE);            \
                                                                            \
    if (unref == NULL)                                                      \
      {                                                                     \
        unref = (UnrefFunc) dlsym (RTLD_NEXT, #name);                       \
        __atomic_store_n (&real, unref, __ATOMIC_RELEASE);                  \
      }                                                                     \
                                                                            \
    if (object != NULL)                                                     \
      {                                                                     \
        __tsan_acquire ((void *) object);                                   \
        __tsan_release ((void *) object);                                   \
      }                                                                     \
    unref (object);                                                         \
  }

WRAP_UNREF (g_object_unref, gpointer)
WRAP_UNREF (g_main_context_unref, GMainContext *)
WRAP_UNREF (g_main_loop_unref, GMainLoop *)
WRAP_UNREF (g_source_unref, GSource *)
