/* ag-util.c: helpers shared by the classes of the library
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "ag-util-private.h"

typedef struct
{
  GObject    *object;
  GParamSpec *pspec;
  gint       *queued;
} NotifyData;

static void
notify_data_free (gpointer data)
{
  NotifyData *notify = data;

  g_object_unref (notify->object);
  g_param_spec_unref (notify->pspec);
  g_free (notify);
}

static gboolean
emit_notify_cb (gpointer data)
{
  NotifyData *notify = data;

  if (notify->queued != NULL)
    g_atomic_int_set (notify->queued, 0);
  g_object_notify_by_pspec (notify->object, notify->pspec);

  return G_SOURCE_REMOVE;
}

/*
 * ag_notify_on_context:
 * @object: the object whose property changed
 * @context: the context the object's notifications belong to
 * @pspec: the property
 * @queued: (nullable) (atomic): set while a notification is queued, so that
 *   changes in a burst are reported once; reset before it is emitted
 *
 * Emits ::notify for @pspec on @context, whatever thread calls it: inline
 * when this thread is running @context, else from an idle source attached to
 * it. Costs one signal lookup and nothing more when no handler is
 * connected.
 * Must be called without any lock held.
 */
void
ag_notify_on_context (gpointer      object,
                      GMainContext *context,
                      GParamSpec   *pspec,
                      gint         *queued)
{
  static gsize notify_signal_id;
  NotifyData *notify;

  if (g_once_init_enter (&notify_signal_id))
    g_once_init_leave (&notify_signal_id,
                       g_signal_lookup ("notify", G_TYPE_OBJECT));

  /* Any handler of "notify", whatever its detail: one look (under GLib's
   * global signal lock, which every thread completing a job would take),
   * where g_signal_has_handler_pending () would need two ("notify" and
   * "notify::name" are matched apart). A handler for another property only
   * costs an emission nobody hears. */
  if (g_signal_handler_find (object, G_SIGNAL_MATCH_ID,
                             (guint) notify_signal_id, 0,
                             NULL, NULL, NULL) == 0)
    return;

  if (queued != NULL && !g_atomic_int_compare_and_exchange (queued, 0, 1))
    return;

  notify = g_new (NotifyData, 1);
  notify->object = g_object_ref (object);
  notify->pspec = g_param_spec_ref (pspec);
  notify->queued = queued;

  /* Not g_main_context_invoke(): a worker whose thread-default context is
   * the global default would acquire it and emit the notification itself. */
  if (g_main_context_is_owner (context))
    {
      emit_notify_cb (notify);
      notify_data_free (notify);
    }
  else
    {
      GSource *source = g_idle_source_new ();

      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_static_name (source, "[async-gobject] notify");
      g_source_set_callback (source, emit_notify_cb, notify,
                             notify_data_free);
      g_source_attach (source, context);
      g_source_unref (source);
    }
}

/*
 * ag_notify_here:
 * @object: the object whose property changed
 * @pspec: the property
 * @queued: (nullable) (atomic): as for ag_notify_on_context()
 *
 * Emits ::notify for @pspec now, in the thread that runs the context the
 * object's notifications belong to (a dispatch of that context). GObject
 * finds out without a lock that nobody listens (on 64-bit builds of GLib
 * 2.74 and later: a flag set when a first ::notify handler is connected),
 * where ag_notify_on_context(), which may not emit where it runs, looks
 * for handlers under GLib's global signal lock. A notification queued
 * meanwhile reports this change too.
 * Must be called without any lock held.
 */
void
ag_notify_here (gpointer    object,
                GParamSpec *pspec,
                gint       *queued)
{
  if (queued == NULL || g_atomic_int_get (queued) == 0)
    g_object_notify_by_pspec (object, pspec);
}
