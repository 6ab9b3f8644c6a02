/* Unit tests for src/net/dns.c: hosts-file parsing and resolution from a hosts file (the DNS
 * path is exercised by the integration tests against a DNS server on loopback). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/dns.h"

static const char hosts[] = "# comment 10.0.0.9 commented\n"
			    "127.0.0.1\tlocalhost\n"
			    "10.1.2.3  api.example.test api # alias\n"
			    "fd00::1 api.example.test\n"
			    "bogus-address other.test\n"
			    "  \n"
			    "192.0.2.7 UPPER.test\n";

static const char *v4(const struct sockaddr_storage *a, char *buf)
{
	return inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, buf, 64);
}

static void test_hosts_lookup(void **state)
{
	struct sockaddr_storage addrs[4];
	char buf[64];

	(void)state;
	assert_int_equal(dns_hosts_lookup(hosts, "api.example.test", addrs, 4), 2);
	assert_string_equal(v4(&addrs[0], buf), "10.1.2.3");
	assert_int_equal(addrs[1].ss_family, AF_INET6);
	assert_int_equal(dns_hosts_lookup(hosts, "api", addrs, 4), 1);
	assert_int_equal(dns_hosts_lookup(hosts, "upper.test", addrs, 4), 1);
	assert_int_equal(dns_hosts_lookup(hosts, "commented", addrs, 4), 0);
	assert_int_equal(dns_hosts_lookup(hosts, "other.test", addrs, 4), 0);
	assert_int_equal(dns_hosts_lookup(hosts, "example.test", addrs, 4), 0);
	assert_int_equal(dns_hosts_lookup(hosts, "api.example.test", addrs, 1), 1);
	assert_int_equal(dns_hosts_lookup(NULL, "x", addrs, 4), 0);
}

struct got {
	int calls;
	struct dns_answer answer;
};

static void on_answer(void *arg, const struct dns_answer *answer)
{
	struct got *g = arg;

	g->calls++;
	g->answer = *answer;
}

static void watch(void *loop, int fd, int r, int w)
{
	(void)loop, (void)fd, (void)r, (void)w;
}

static void test_resolve_from_hosts_file(void **state)
{
	char path[] = "/tmp/stockade-test-hosts-XXXXXX";
	int fd = mkstemp(path);
	struct dns *dns;
	struct sk_err err = {0};
	struct got got = {0};
	char buf[64];

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, hosts, strlen(hosts)), (ssize_t)strlen(hosts));
	close(fd);
	assert_int_equal(dns_init(&dns, "127.0.0.1:9", path, watch, NULL, &err), 0);
	dns_resolve(dns, "api.example.test", on_answer, &got);
	assert_int_equal(got.calls, 1); /* synchronously, from the file */
	assert_int_equal(got.answer.status, 0);
	assert_int_equal(got.answer.count, 2);
	assert_string_equal(v4(&got.answer.addrs[0], buf), "10.1.2.3");
	dns_free(dns);
	unlink(path);
	assert_int_equal(dns_init(&dns, NULL, "/nonexistent/hosts", watch, NULL, &err), -1);
	assert_string_equal(err.layer, "proxy");
	assert_int_equal(dns_init(&dns, "not-an-ip", NULL, watch, NULL, &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hosts_lookup),
		cmocka_unit_test(test_resolve_from_hosts_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
