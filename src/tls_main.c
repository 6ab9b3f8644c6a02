/* stockade-tls: the part of stockade that holds OpenSSL (net/proxy_wire.h says why it is an
 * executable of its own). Never run by hand: `stockade run --credential` execs it, with the
 * wire (a memfd of this build's configuration) named by argv[2]:
 *   stockade-tls ca FD     makes the run's CA (net/tlsca.h) into the wire's two memfds;
 *   stockade-tls proxy FD  is the egress proxy (net/proxy.h) of a run with credentials. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "net/proxy_wire.h"
#include "net/tlsca.h"
#include "util/parse.h"

static int answer(int ready_fd, const struct sk_err *err)
{
	if (err)
		(void)!write(ready_fd, err, sizeof(*err));
	else
		(void)!write(ready_fd, "", 1);
	return err ? 1 : 0;
}

static int make_ca(const struct proxy_wire *wire)
{
	struct sk_err err = {0};
	struct tlsca *ca = NULL;
	int rc = tlsca_create(&ca, wire->config.credentials, wire->config.credential_count, &err);

	if (rc == 0)
		rc = tlsca_write(ca, wire->ca_key_fd, wire->ca_cert_fd, &err);
	tlsca_free(ca);
	return answer(wire->ready_fd, rc == 0 ? NULL : &err);
}

static int serve(struct proxy_wire *wire)
{
	struct sk_err err = {0};
	struct tlsca *ca = NULL;

	if (tlsca_read(&ca, wire->ca_key_fd, &err) < 0)
		return answer(wire->ready_fd, &err);
	close(wire->ca_key_fd); /* the keys are in this process now, and only here */
	wire->config.ca = ca;
	int rc = proxy_process(&wire->config, wire->http_fd, wire->socks_fd, wire->control_fd,
			       wire->ready_fd, wire->stats_fd);
	tlsca_free(ca);
	return rc;
}

int main(int argc, char **argv)
{
	struct sk_err err = {0};
	struct proxy_wire *wire;
	uint64_t fd;

	/* First: this process will hold the CA's key and the credentials' values; a host process
	 * of the same uid must not read them through /proc/PID/mem (exec made it dumpable). */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		perror("stockade-tls: prctl(PR_SET_DUMPABLE)");
		return 1;
	}
	if (argc != 3 || (strcmp(argv[1], "ca") != 0 && strcmp(argv[1], "proxy") != 0) ||
	    parse_uint(argv[2], 3, INT32_MAX, &fd) < 0) {
		fprintf(stderr,
			"usage: stockade-tls ca|proxy FD (stockade runs it; not by hand)\n");
		return 2;
	}
	wire = malloc(sizeof(*wire));
	if (!wire || proxy_wire_read((int)fd, wire, &err) < 0) {
		/* Its ready_fd cannot be trusted: the status says it, and stockade prints the
		 * one line (proxy_wire_answer). */
		return PROXY_WIRE_EXIT_MISMATCH;
	}
	return strcmp(argv[1], "ca") == 0 ? make_ca(wire) : serve(wire);
}
