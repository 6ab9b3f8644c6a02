/* Where stockade keeps its state: $STOCKADE_HOME, else $XDG_DATA_HOME/stockade, else
 * ~/.local/share/stockade for a user and /var/lib/stockade for root. */
#ifndef STOCKADE_PATHS_H
#define STOCKADE_PATHS_H

#include <stddef.h>

#include "util/err.h"

/* Writes the state directory's path into buf (not created). */
int paths_home(char *buf, size_t size, struct sk_err *err);
/* Creates the state directory (0700, and its parents as needed) if missing, and checks that
 * it is a directory owned by us that nobody else can write. */
int paths_ensure_home(char *buf, size_t size, struct sk_err *err);
/* The default socket of `stockade serve` (and of `stockade health`, its client): root's
 * /run/stockade/stockade.sock, a user's $XDG_RUNTIME_DIR/stockade.sock. */
int paths_serve_socket(char *buf, size_t size, struct sk_err *err);

#endif
