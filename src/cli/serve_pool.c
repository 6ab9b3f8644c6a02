/* `stockade serve --pool N`: N sandboxes of the operator's spec kept made and idle, so that a
 * create that asks for exactly that spec (no name, no timers: `POST /v1/sandboxes` with an
 * empty spec, `POST /v1/run` without one) takes one at once instead of waiting for a launch.
 * A refill thread makes them one at a time, through the same `run -d` as any create
 * (serve_make_box), and sleeps while the pool is full. A warm sandbox is like any other the
 * daemon made: tied to it, stopped and removed with it; it is listed only once taken. */
#define _GNU_SOURCE
#include "cli/serve_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/box.h"
#include "util/err.h"

#define POOL_RETRY_S 2 /* after a failed make, the refill waits this long */

struct serve_pool {
	unsigned target;
	char (*names)[BOX_NAME_MAX + 1]; /* ready, oldest first */
	size_t count;
	char *base_doc; /* the operator's spec as a request's is compared (canonical JSON) */
	pthread_t thread;
	bool has_thread;
	pthread_cond_t wake;
	unsigned long made, failed, taken;
};

static void *refill(void *arg)
{
	struct serve *s = arg;
	struct serve_pool *p = s->pool;

	pthread_mutex_lock(&s->lock);
	while (!s->is_stopping) {
		if (p->count >= p->target) {
			pthread_cond_wait(&p->wake, &s->lock);
			continue;
		}
		pthread_mutex_unlock(&s->lock);
		char name[BOX_NAME_MAX + 1], message[400];
		int rc =
		    serve_make_box(s, p->base_doc, name, sizeof(name), message, sizeof(message));
		pthread_mutex_lock(&s->lock);
		if (rc == 0) {
			p->made++; /* in names already: serve_pool_add_locked */
		} else {
			p->failed++;
			fprintf(stderr, "stockade: pool: %s\n", message);
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += POOL_RETRY_S;
			pthread_cond_timedwait(&p->wake, &s->lock, &until);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int serve_pool_start(struct serve *s, unsigned target, struct sk_err *err)
{
	struct serve_pool *p;
	json_t *doc;

	if (target == 0)
		return 0;
	p = calloc(1, sizeof(*p));
	doc = cli_spec_json(&s->base);
	if (p)
		p->names = calloc(target, sizeof(*p->names));
	if (p && doc)
		p->base_doc = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (!p || !p->names || !p->base_doc) {
		if (p) {
			free(p->names);
			free(p->base_doc);
		}
		free(p);
		return sk_fail(err, "serve", ENOMEM, NULL, "the pool");
	}
	p->target = target;
	pthread_cond_init(&p->wake, NULL);
	s->pool = p;
	if (pthread_create(&p->thread, NULL, refill, s) != 0) {
		s->pool = NULL;
		free(p->names);
		free(p->base_doc);
		free(p);
		return sk_fail(err, "serve", errno, NULL, "start the pool's thread");
	}
	p->has_thread = true;
	return 0;
}

bool serve_pool_take(struct serve *s, const char *doc, char *name, size_t size)
{
	struct serve_pool *p = s->pool;
	bool is_taken = false;

	if (!p || strcmp(doc, p->base_doc) != 0)
		return false;
	pthread_mutex_lock(&s->lock);
	if (p->count > 0) {
		sk_strlcpy(name, p->names[0], size);
		memmove(p->names[0], p->names[1], (p->count - 1) * sizeof(*p->names));
		p->count--;
		p->taken++;
		is_taken = true;
		/* The client's from now on, in the same step: it is counted once, and reachable. */
		serve_own_locked(s, name);
		pthread_cond_signal(&p->wake);
	}
	pthread_mutex_unlock(&s->lock);
	return is_taken;
}

void serve_pool_add_locked(struct serve *s, const char *name)
{
	struct serve_pool *p = s->pool;

	if (p && p->count < p->target)
		sk_strlcpy(p->names[p->count++], name, sizeof(*p->names));
}

unsigned serve_pool_count_locked(const struct serve *s)
{
	return s->pool ? (unsigned)s->pool->count : 0;
}

void serve_pool_counts(struct serve *s, unsigned *available, unsigned *target)
{
	struct serve_pool *p = s->pool;

	*available = *target = 0;
	if (!p)
		return;
	pthread_mutex_lock(&s->lock);
	*available = (unsigned)p->count;
	*target = p->target;
	pthread_mutex_unlock(&s->lock);
}

void serve_pool_stop(struct serve *s)
{
	struct serve_pool *p = s->pool;

	if (!p)
		return;
	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&s->lock);
	if (p->has_thread)
		pthread_join(p->thread, NULL); /* a make under way ends first (tied, so removed) */
	p->has_thread = false;
}

void serve_pool_free(struct serve *s)
{
	struct serve_pool *p = s->pool;

	/* Only once the HTTP server has stopped: /readyz, /metrics and creates read s->pool
	 * without the lock, then take the lock and use it. Freed at the start of the drain (as
	 * it was), a request in between read freed memory. */
	if (!p)
		return;
	s->pool = NULL;
	pthread_cond_destroy(&p->wake);
	free(p->names);
	free(p->base_doc);
	free(p);
}
