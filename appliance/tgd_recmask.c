/* tgd_recmask.c - sensitive data in recorded statements is masked like result fields.
 *
 * Why: results reach the recording as the client got them, masked; the statements did
 * not. INSERT INTO cards VALUES ('4111 1111 1111 1111') or WHERE email = '...' kept
 * the card number or address in clear in the audit store, which then held the data
 * the masking rules exist to keep out of sight. The field rules (pii.conf and the
 * like) are run over each command's recorded text, as one field, before it is written.
 *
 * Done on the slow path, not in the workers: the recording is the slow path's, a
 * worker's time goes to traffic, and the text is already in the event. The fingerprint
 * hash (computed by the worker from the literal-free fingerprint) is not affected.
 * recorder.mask_statements = false records statements as sent (for forensics).
 */
#include <string.h>
#include "appliance/tgd_ops.h"
#include "appliance/tgd_recmask.h"
#include "common/tg_log.h"
#include "dataplane/policy.h"
#include "rules/rule.h"

unsigned tgd_mask_statements(struct tgd *d, struct tg_event *ev, unsigned n)
{
	const struct dp_policy *p = d->slot ? d->slot->cur : NULL;
	struct rule_set *rs = p ? p->ops.rules : NULL;
	struct rule_scratch *scratch;
	unsigned changed = 0;

	if (!d->cfg.rec_mask_statements || rs == NULL)
		return 0;
	if ((scratch = tgd_rule_scratch(d)) == NULL) {
		TG_ERR("recorder", "no rule scratch: statements recorded unmasked");
		return 0;
	}
	for (unsigned i = 0; i < n; i++) {
		struct tg_event *e = &ev[i];
		size_t len;
		if (e->type != EV_COMMAND || e->u.cmd.text[0] == 0 ||
		    !rule_has_result_rules(rs, e->proto, e->res_id))
			continue;
		len = strnlen(e->u.cmd.text, sizeof(e->u.cmd.text));
		struct rule_field f = { .off = 0, .len = (uint32_t)len, .col = NULL, .col_rule = -1 };
		struct rule_mask_stats st = { 0 };
		if (rule_mask_fields(rs, scratch, e->proto, e->res_id,
				     (uint8_t *)e->u.cmd.text, (uint32_t)len, &f, 1, &st) == 0 &&
		    st.fields_masked)
			changed++;
	}
	d->rec_statements_masked += changed;
	return changed;
}
