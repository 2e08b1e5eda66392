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

/* Parses "ADDR:PORT" style and protocol names; exposed for tests. */
int cfg_parse_proto(const char *s);

#endif
