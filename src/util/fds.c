/* File descriptor hygiene (see fds.h). */
#define _GNU_SOURCE
#include "util/fds.h"

#include <unistd.h>

int fds_close_except(int *keep, int count)
{
	unsigned from = 3;

	for (int i = 1; i < count; i++)
		for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (int i = 0; i < count; i++) {
		if (keep[i] < (int)from)
			continue;
		if (keep[i] > (int)from && close_range(from, (unsigned)keep[i] - 1, 0) < 0)
			return -1;
		from = (unsigned)keep[i] + 1;
	}
	return close_range(from, ~0U, 0);
}
