/* ag-tsan-private.h: what ThreadSanitizer cannot see by itself
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * GObject reference counts live in Debian's GLib, which is not built with
 * ThreadSanitizer: TSan does not see that dropping the last reference in
 * one thread happens after every other thread dropped theirs, and would
 * report each finalize as racing with the last use elsewhere. The TSan
 * build models what the reference count guarantees, as Rust's Arc does:
 * every g_object_unref() is a release (tests/tsan-shim.c wraps it), and
 * each finalize of ours begins with an acquire of the object.
 */

#pragma once

#include <glib.h>

#if defined(__SANITIZE_THREAD__)
# define AG_HAVE_TSAN 1
#elif defined(__has_feature)
# if __has_feature(thread_sanitizer)
#  define AG_HAVE_TSAN 1
# endif
#endif

#ifdef AG_HAVE_TSAN
void __tsan_acquire (void *addr);
void __tsan_release (void *addr);
# define AG_TSAN_ACQUIRE(addr) __tsan_acquire ((void *) (addr))
# define AG_TSAN_RELEASE(addr) __tsan_release ((void *) (addr))
#else
# define AG_TSAN_ACQUIRE(addr) G_STMT_START { (void) (addr); } G_STMT_END
# define AG_TSAN_RELEASE(addr) G_STMT_START { (void) (addr); } G_STMT_END
#endif
