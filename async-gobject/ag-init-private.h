/* ag-init-private.h: one-time library initialization
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

void ag_init_i18n (void);

G_END_DECLS
