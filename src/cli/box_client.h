/* Shared by the clients of a long-lived sandbox (cli/box.c, cli/boxcp.c). */
#ifndef STOCKADE_BOX_CLIENT_H
#define STOCKADE_BOX_CLIENT_H

#include "store/box.h"
#include "util/err.h"

/* The sandbox NAME, alive, and a connection to its supervisor's control socket; -1 with err
 * ("no sandbox NAME", "is not running"). */
int cli_box_connect(const char *name, struct box_root *root, struct box *box, struct sk_err *err);
void cli_box_disconnect(int fd, struct box_root *root, struct box *box);
/* stockade cp NAME:/path HOSTPATH | HOSTPATH NAME:/path */
int cli_box_cp(int argc, char **argv, struct sk_err *err);

#endif
