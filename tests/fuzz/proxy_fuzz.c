/*
 * libFuzzer harness for the PROXY protocol parser: every input is a
 * connection's first bytes, parsed as a service taking v1, v2 or both.
 * A header called done must lie within the input; nothing may be read
 * past it (ASan).  Built and run by tests/fuzz/run.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_hdr	 h;
	const char		*why;

	for (unsigned v = 1; v <= 3; v++)
		if (proxy_parse(data, size, v, &h, &why) == PROXY_DONE &&
		    (h.len > size || h.len == 0 ||
		    h.unique_id_len > PROXY_UNIQUE_ID_MAX ||
		    strlen(h.authority) > PROXY_AUTHORITY_MAX))
			abort();
	if (proxy_need(data, size) > PROXY_V2_MAX)
		abort();
	return 0;
}
