/* "Requests can only narrow": whether a spec asked for through `stockade serve` grants nothing
 * the operator's spec does not. The request's document is applied over the operator's spec as
 * one more layer (cli_policy_apply_doc); the result is compared here with the operator's, field
 * by field. A pure function: no I/O, nothing kept (docs/spec.md, "Narrowing"). */
#ifndef STOCKADE_SPEC_NARROW_H
#define STOCKADE_SPEC_NARROW_H

#include <stdbool.h>
#include <stddef.h>

#include "spec/spec.h"

/* 0 when req grants nothing base does not; else -1 with path (the JSON path, in the spec
 * document, of the first field in the order below that widens: "limits.memory",
 * "network.allow[2]", "volumes[0]", "secrets[1]", "uid") and why (one line a client can act
 * on, quoting the offending entry; never a secret's source). An index counts in req's list as
 * the merge left it (`policy show` order: base's entries first unless the request set the
 * list to null; a secret of a base secret's name stays at that one's place). Both buffers are
 * always NUL-terminated, empty on 0. -1 also when the check itself cannot be made (out of
 * memory, a base rule that does not parse): fail closed.
 *
 * The rules, checked in the document's field order (network.mode after the rules, as it is
 * applied, so that a rule the operator does not grant is named before the mode it turned on):
 * - command, workdir, hostname, tty, quiet: free (what runs and where inside, the daemon's
 *   stderr).
 * - env: free, except a bare KEY (which takes the daemon's own value of KEY): only one that
 *   base has as a bare KEY too.
 * - uid (and gid), rootfs: equal to base's.
 * - volumes: each of req's is one of base's: same name and guest path (an anonymous one only
 *   where base has an anonymous one at that path); read-write -> read-only allowed, never the
 *   reverse. keep_volumes: true only if base's is.
 * - secrets: each of req's equal to one of base's (name, source, from, env). Fewer is fine.
 * - credentials: each of req's equal to one of base's (name, source, hosts, header, format).
 * - network.ca_file: equal to base's when req has credentials or names one.
 * - network, only when req has one (without, nothing below is reachable):
 *   allow: each rule of req is one of base's (same canonical text, /raw included) or, for an
 *   exact name with or without :PORT, one that base's rules allow on each of its ports through
 *   hostmatch's own matching (netpolicy_check_name over base's rules as the proxy gets them,
 *   deny rules and public's ports included); a /raw one only where the deciding rule is /raw.
 *   A wildcard, address, network or port rule only as base writes it (an IP or CIDR rule also
 *   lifts the forbidden address ranges, which no name rule does).
 *   deny: every rule of base's is in req's (same canonical text); req may add more.
 *   dns_server, hosts_file: equal to base's (they steer the proxy).
 *   mode: none < allowlist < public, req's <= base's.
 * - limits memory, pids, cpus, timeout, output, tmpfs: req <= base, 0 meaning none (so base
 *   X > 0 and req 0 widens).
 * - allow_degraded: req's layers a subset of base's.
 * - report, audit: equal to base's (a request may not make the daemon write a host file, nor
 *   drop the operator's); audit may be absent where req has no network (nothing to audit).
 * - require.landlock_abi: req >= base (asking more of the host is stricter).
 * A field added to struct sandbox_spec must get a rule here (spec_narrow.c's table and its
 * size check say so). */
int spec_narrow_check(const struct sandbox_spec *base, const struct sandbox_spec *req, char *path,
		      size_t path_size, char *why, size_t why_size);

/* Whether the check has a rule (free ones included) for a document path: "limits.memory",
 * "command". For the test that every field of the document (spec_fields[]) has one. */
bool spec_narrow_has_rule(const char *path);

#endif
