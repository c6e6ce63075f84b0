/* ag-version-macros.h: symbol visibility and availability macros
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(AG_INSIDE) && !defined(AG_COMPILATION)
# error "Only <async-gobject/async-gobject.h> can be included directly."
#endif

#include <glib.h>

/* When building the library, config.h defines _AG_EXTERN to export the
 * symbol; everyone else sees a plain extern declaration. */
#ifndef _AG_EXTERN
# define _AG_EXTERN extern
#endif

#ifdef AG_DISABLE_DEPRECATION_WARNINGS
# define AG_DEPRECATED _AG_EXTERN
# define AG_DEPRECATED_FOR(f) _AG_EXTERN
# define AG_UNAVAILABLE(maj,min) _AG_EXTERN
#else
# define AG_DEPRECATED G_DEPRECATED _AG_EXTERN
# define AG_DEPRECATED_FOR(f) G_DEPRECATED_FOR (f) _AG_EXTERN
# define AG_UNAVAILABLE(maj,min) G_UNAVAILABLE (maj, min) _AG_EXTERN
#endif

/**
 * AG_AVAILABLE_IN_ALL:
 *
 * Marks a symbol that is available in every version of the library.
 */
#define AG_AVAILABLE_IN_ALL _AG_EXTERN

/**
 * AG_AVAILABLE_IN_0_1:
 *
 * Marks a symbol that is available since version 0.1.
 */
#define AG_AVAILABLE_IN_0_1 _AG_EXTERN
