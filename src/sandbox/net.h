/* The network layer: the sandbox's own network namespace holds only loopback. */
#ifndef STOCKADE_NET_H
#define STOCKADE_NET_H

#include "util/err.h"

/* Child, before capabilities are dropped (needs CAP_NET_ADMIN in the namespace): brings lo
 * up so programs can serve and connect on 127.0.0.1 inside. No other interface exists. */
int net_apply(struct sk_err *err);

#endif
