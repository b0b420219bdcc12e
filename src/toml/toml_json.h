/* toml-test's tagged JSON for a TOML tree: tables become objects (keys in document order),
 * arrays become arrays, and every scalar becomes {"type": "...", "value": "..."} with type one
 * of string, integer, float, bool, datetime, datetime-local, date-local, time-local. */
#ifndef BATON_TOML_JSON_H
#define BATON_TOML_JSON_H

#include "toml/toml.h"
#include "util/buf.h"

/* Append the JSON for v (usually the root from toml_parse()) to out, without a newline. */
void toml_json_write(struct buf *out, const struct toml_value *v);

#endif
