/* config.h - loading and validating the appliance configuration (libconfig). */
#ifndef TG_CONFIG_H
#define TG_CONFIG_H

#include "appliance/config-t.h"

/* Fills <c> with the built-in defaults (the values documented in tollgate.conf). */
void cfg_defaults(struct cfg *c);

/* Loads <path> into <c> (defaults first, then the file).
 * Returns 0 on success. On error returns -1 and writes one line into <err>
 * (<errlen> bytes) naming the file, the line and the setting, e.g.
 * "tollgate.conf:42: dataplane.flow_capacity: must be between 1024 and 16777216". */
int cfg_load(struct cfg *c, const char *path, char *err, size_t errlen);

/* Errors if a file of <c>'s rules.files cannot be opened and read, naming the config
 * file, the line and the setting, e.g. "tollgate.conf:88: rules.files[0]: cannot open
 * "/etc/tollgate/pii.conf": No such file or directory"; the rule loader, which reads
 * them, knows only their own paths. Returns 0, or -1 with one line in <err>. */
int cfg_rule_files_check(const struct cfg *c, char *err, size_t errlen);

/* Parses "ADDR:PORT" style and protocol names; exposed for tests. */
int cfg_parse_proto(const char *s);

#endif
