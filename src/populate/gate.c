/* gate: the writeback gate. See gate.h. */
#include "populate/gate.h"

#include "core/log.h"
#include "store/populate_store.h"

#include <stdio.h>
#include <string.h>

int pb_gate_check(pb_db *db, const pb_gate_req *r, pb_error *err)
{
    char policy[16] = "disabled";
    pb_error e2 = {0};
    int rc = pb_ps_policy_get(db, r->workspace, policy, sizeof policy, &e2);
    if (rc && rc != PB_ENOTFOUND) {
        if (err) *err = e2;
        return rc;
    }
    int unknown = rc == PB_ENOTFOUND;
    int ok = !unknown && (strcmp(policy, "enabled") == 0 ||
                          (strcmp(policy, "explicit") == 0 && r->kind == PB_GATE_OPERATOR));
    if (ok) return 0;
    char action[600];
    snprintf(action, sizeof action, "refused: %s", r->action ? r->action : "write");
    char detail[160];
    snprintf(detail, sizeof detail, "{\"policy\":\"%s\",\"kind\":\"%s\"}", unknown ? "unknown-workspace" : policy,
             r->kind == PB_GATE_OPERATOR ? "operator" : "automation");
    pb_ps_audit_row a = {r->source, r->workspace, action, r->target, 0, r->actor, detail};
    pb_ps_audit(db, &a, NULL);
    PB_LOG(PB_LOG_WARN, "writeback refused", PB_LS("workspace", r->workspace), PB_LS("source", r->source),
           PB_LS("policy", unknown ? "unknown-workspace" : policy));
    if (unknown) return pb_error_set(err, PB_EFORBIDDEN, "writeback refused: unknown workspace '%s'", r->workspace);
    return pb_error_set(err, PB_EFORBIDDEN,
                        "writeback refused: workspace '%s' has writeback_policy '%s' (set it with `planebridge "
                        "policy %s explicit`)",
                        r->workspace, policy, r->workspace);
}

int pb_gate_record(pb_db *db, const pb_gate_req *r, int upstream_status, const char *detail, pb_error *err)
{
    pb_ps_audit_row a = {r->source, r->workspace, r->action, r->target, upstream_status > 0 ? upstream_status : 599,
                         r->actor, detail};
    return pb_ps_audit(db, &a, err);
}
