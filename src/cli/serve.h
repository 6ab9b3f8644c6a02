/* `stockade serve`: the HTTP/JSON daemon (cli/serve.c), in an executable of its own,
 * stockade-serve, linked with libmicrohttpd; `stockade serve` execs it (main.c), so the
 * stockade binary stays static and small. */
#ifndef STOCKADE_SERVE_H
#define STOCKADE_SERVE_H

#include "util/err.h"

/* Until SIGTERM, SIGINT or SIGHUP: 0, or -1 with err. argv[0] is "serve". */
int serve_main(int argc, char **argv, struct sk_err *err);

#endif
