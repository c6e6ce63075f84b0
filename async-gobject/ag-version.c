/* ag-version.c: the version of async-gobject in use at run time
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "ag-version.h"

/**
 * ag_get_major_version:
 *
 * Returns the major version of the async-gobject library in use at run
 * time, e.g. 1 for 1.2.3. The headers the program was compiled against give
 * theirs with [const@AsyncGObject.MAJOR_VERSION].
 *
 * Can be called from any thread.
 *
 * Returns: the major version
 *
 * Since: 0.1
 */
guint
ag_get_major_version (void)
{
  return AG_MAJOR_VERSION;
}

/**
 * ag_get_minor_version:
 *
 * Returns the minor version of the async-gobject library in use at run
 * time, e.g. 2 for 1.2.3.
 *
 * Can be called from any thread.
 *
 * Returns: the minor version
 *
 * Since: 0.1
 */
guint
ag_get_minor_version (void)
{
  return AG_MINOR_VERSION;
}

/**
 * ag_get_micro_version:
 *
 * Returns the micro version of the async-gobject library in use at run
 * time, e.g. 3 for 1.2.3.
 *
 * Can be called from any thread.
 *
 * Returns: the micro version
 *
 * Since: 0.1
 */
guint
ag_get_micro_version (void)
{
  return AG_MICRO_VERSION;
}

/**
 * ag_check_version:
 * @required_major: the required major version
 * @required_minor: the required minor version
 * @required_micro: the required micro version
 *
 * Checks that the async-gobject library in use at run time is compatible
 * with the given version: its major version equals @required_major and it
 * is @required_major.@required_minor.@required_micro or newer.
 *
 * This is the run-time counterpart of [func@AsyncGObject.CHECK_VERSION],
 * with the semantics of `gtk_check_version()`.
 *
 * Can be called from any thread.
 *
 * Returns: (nullable): %NULL if the library is compatible, or else a
 *   static string, owned by the library, that says why it is not
 *
 * Since: 0.1
 */
const char *
ag_check_version (guint required_major,
                  guint required_minor,
                  guint required_micro)
{
  /* Variables, not the macros, so that no comparison is constant-folded
   * into a "always false" warning while the major version is 0. */
  guint major = AG_MAJOR_VERSION;
  guint minor = AG_MINOR_VERSION;
  guint micro = AG_MICRO_VERSION;

  if (required_major > major)
    return "async-gobject version too old (major mismatch)";
  if (required_major < major)
    return "async-gobject version too new (major mismatch)";
  if (required_minor > minor)
    return "async-gobject version too old (minor mismatch)";
  if (required_minor == minor && required_micro > micro)
    return "async-gobject version too old (micro mismatch)";

  return NULL;
}
