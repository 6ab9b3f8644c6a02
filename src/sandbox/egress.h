/* The egress layer: with --network allowlist, the sandbox's PID 1 makes the proxy's two
 * listening sockets inside its network namespace and hands them to the parent, which starts
 * the proxy (net/proxy.h) on them before the command may run. Without it, nothing: the
 * sandbox's network namespace has loopback only. */
#ifndef STOCKADE_EGRESS_H
#define STOCKADE_EGRESS_H

#include <stdbool.h>

#include "net/proxy.h"
#include "sandbox/env.h"
#include "sandbox/report.h"
#include "spec/spec.h"
#include "util/err.h"

struct egress_plan {
	bool is_enabled;
	struct proxy_config *config; /* allocated (the policy is large) */
	struct proxy_handle handle;
	char detail[160];
};

/* The spec's rules as the proxy applies them: --allow-net, --deny-net, the credentials' hosts,
 * then --network public's ports (SANDBOX_PUBLIC_PORTS). The one place that composes them, so that what
 * spec_narrow_check (sandbox/spec_narrow.h) calls granted is what the proxy lets through. */
int egress_rules_add(struct netpolicy *policy, const struct sandbox_spec *spec, struct sk_err *err);
/* Parent, before clone: the policy from --allow-net/--deny-net (checked with the spec), the
 * host's own addresses, a copy of the audit file (audit_fd, the front end's), the proxy's own
 * confinement (landlock_abi: the sandbox's Landlock ABI, 0 without the layer), and the proxy
 * variables in the environment. */
int egress_prepare(struct egress_plan *plan, const struct sandbox_spec *spec, int audit_fd,
		   int landlock_abi, struct env_plan *env, struct sk_err *err);
/* Child (PID 1), after lo is up and before capabilities are dropped: listen, send the sockets
 * to the parent, wait until the proxy serves them. Async-signal-safe. */
int egress_apply(const struct egress_plan *plan, int sync_fd, struct sk_err *err);
/* Parent, on the child's SYNC_PROXY: starts the proxy on the sockets, then lets the child
 * go on; -1 with err when the proxy cannot start (the run must stop). */
int egress_from_parent(struct egress_plan *plan, int fds[2], int sync_fd, struct sk_err *err);
/* Parent, after the sandbox ended: stops the proxy and records its counts. */
void egress_finish(struct egress_plan *plan, struct sandbox_result *result,
		   struct run_report *report);
void egress_plan_free(struct egress_plan *plan);

#endif
