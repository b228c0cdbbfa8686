/*
 * validate.h - the cross-file checks over a model whose files each
 * parsed.  Diagnostics are in diag.h, the name patterns in names.h.
 *
 * Layer: model (includes git, base).
 */
#ifndef FIREBREAK_VALIDATE_H
#define FIREBREAK_VALIDATE_H

#include <stddef.h>

#include "base/names.h"
#include "base/util.h"
#include "model/diag.h"

struct model;

/*
 * Cross-file checks over a model whose files each parsed: roles that
 * exist, IPs used once among active hosts, DNS names that do not collide
 * (a CNAME beside another record of the same name).  Appends to `d`.
 */
void validate_model(struct diags *d, const struct model *m);

/*
 * The same, for a model loaded against `base` (valid, or NULL): when only
 * a few hosts changed and the roles and zones did not, only what those
 * hosts bring is checked; any doubt runs validate_model(), so `d` gets
 * exactly what validate_model() would add.
 */
void validate_model_from(struct diags *d, const struct model *m, const struct model *base);

#endif
