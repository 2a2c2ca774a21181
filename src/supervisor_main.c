/* dcf-supervisor: options, then the supervisor. */
#include <unistd.h>

#include "supervisor.h"

extern char **environ;

int
main(int argc, char **argv)
{
	struct sup_opts o;
	int r;

	setproctitle_init(argc, argv, environ);
	r = sup_parse_options(argc, argv, &o);
	if (r != 0)
		return r > 0 ? 0 : 2;
	return supervisor_run(&o);
}
