/* stockade-serve: the daemon behind `stockade serve` (cli/serve.h). Its own executable because
 * libmicrohttpd (with the TLS stack Debian builds it with) cannot be linked statically, and
 * the stockade binary is static for its start-up time; a daemon starts once. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/serve.h"
#include "util/err.h"

int main(int argc, char **argv)
{
	struct sk_err err;

	memset(&err, 0, sizeof(err));
	signal(SIGPIPE, SIG_IGN); /* a client gone mid-answer is an error code, not our end */
	if (serve_main(argc - 1 > 0 ? argc - 1 : 0, argv + (argc > 1), &err) == 0)
		return 0;
	sk_err_print(&err);
	return err.exit_code ? err.exit_code : 125;
}
