/* tgd_recmask.h - masks sensitive data in recorded statements (see tgd_recmask.c). */
#ifndef TG_TGD_RECMASK_H
#define TG_TGD_RECMASK_H

#include "appliance/tgd-t.h"
#include "slowpath/event-t.h"

/* Masks, in place, the text of the command events among <ev> (<n> of them) with the
 * field rules of the policy in force for each event's protocol and resource, when
 * recorder.mask_statements is on. Runs on the slow path, before the events are
 * written. Returns the statements it changed. */
unsigned tgd_mask_statements(struct tgd *d, struct tg_event *ev, unsigned n);

#endif
