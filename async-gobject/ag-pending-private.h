/* ag-pending-private.h: what the rest of the library may do with a pending
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "ag-pending.h"

G_BEGIN_DECLS

/* A done callback. Callers may embed one in a structure of their own (see
 * ag_pending_add_done_node_if_running()) to save an allocation. */
typedef struct _AgCallback AgCallback;

struct _AgCallback
{
  /* the pending's list; the embedder's once the node is fired or dropped */
  AgCallback     *next;
  /* the embedder's: the pending never reads or writes it (ag-caller.c's
   * DoneOn keeps its queue item kind here, where an AgJob has its kind) */
  gint            tag;
  /* immutable: the node of a done callback on a caller (a DoneOn of
   * ag-caller.c, which owns it): the pending hands it to
   * ag_caller_done_on_fire() or ag_caller_done_on_drop() instead of
   * calling @func and @destroy itself */
  guint           on_caller : 1;
  /* runs on the pending's own context, which then emits notify::state
   * (see ag_pending_notify_state()) */
  guint           takes_notify : 1;
  /* on_caller nodes: delivered by the caller (written there only) */
  guint           delivered : 1;
  AgDoneFunc      func;
  gpointer        data;
  GDestroyNotify  destroy;
};

GMainContext *ag_pending_get_context_internal (AgPending *self);
void          ag_pending_notify_state         (AgPending *self);
void          ag_pending_notify_state_here    (AgPending *self);

gboolean ag_pending_add_done_node_if_running (AgPending  *self,
                                              AgCallback *cb);
gboolean ag_pending_remove_done_node         (AgPending  *self,
                                              AgCallback *cb);

/* Completes @self with the contents of @value, which is stolen (left
 * zeroed) whether or not this call wins. @value may be NULL or unset for an
 * empty outcome. */
gboolean ag_pending_take_value          (AgPending    *self,
                                         GValue       *value);

/* Copies the outcome of @source, which must be done, into @self. */
gboolean ag_pending_copy_outcome        (AgPending    *self,
                                         AgPending    *source);

/* FALSE with the error reading the outcome would give, TRUE on success. */
gboolean ag_pending_propagate_error     (AgPending    *self,
                                         GError      **error);

/* Calls @callback on completion like ag_pending_add_done_callback(), but
 * never inline: FALSE (and nothing added, @destroy not called) when @self
 * is already done. */
gboolean ag_pending_add_done_callback_if_running (AgPending      *self,
                                                  AgDoneFunc      callback,
                                                  gpointer        user_data,
                                                  GDestroyNotify  destroy);

/* The caller whose job @self is: set once, before @self is published. */
void      ag_pending_set_caller         (AgPending    *self,
                                         AgCaller     *caller);
AgCaller *ag_pending_get_caller         (AgPending    *self);

/* Sets the canceller of a job's pending, as ag_pending_set_canceller()
 * would set ag_caller_job_cancel() with @job (a reference, which
 * ag_caller_job_finished() releases), in 8 bytes of the pending instead of
 * 24 for a canceller of any kind. */
void      ag_pending_set_job_canceller  (AgPending    *self,
                                         gpointer      job);

G_END_DECLS
