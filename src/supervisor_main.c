/* dcf-supervisor: options, then the supervisor. */
#include <fcntl.h>
#include <unistd.h>

#include "dcf/store.h"
#include "dcf/supervisor.h"

extern char **environ;

int
main(int argc, char **argv)
{
	struct sup_opts o;
	int r;

	/* A closed 0, 1 or 2 would be reused by the next open: the log could land
	 * in the segment. Hold them with /dev/null. */
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) == -1 &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) == -1)
			return 1;
	setproctitle_init(argc, argv, environ);
	r = sup_parse_options(argc, argv, &o);
	if (r != 0)
		return r > 0 ? 0 : 2;
	o.store_open = dcf_store_open;
	return supervisor_run(&o);
}
