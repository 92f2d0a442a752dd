/* vitd-backoff.c — exponential restart backoff.
 *
 * A pipeline that errors right after starting (missing camera, unreachable RTSP server) must not
 * spin: each consecutive failure doubles the wait, up to the configured maximum. The supervisor
 * resets the attempt counter once a run delivered frames, so a source that ends normally and is
 * restarted by `restart: always` keeps the initial delay. */
#include "vitd-backoff.h"

#include <math.h>

double vitd_backoff_delay(double initial_s, double max_s, unsigned attempt)
{
    if (!(initial_s > 0.0) || !(max_s > 0.0))
        return 0.0;
    if (initial_s >= max_s)
        return max_s;
    double delay = initial_s;
    for (unsigned i = 0; i < attempt && delay < max_s; i++)
        delay *= 2.0;
    return delay < max_s ? delay : max_s;
}
