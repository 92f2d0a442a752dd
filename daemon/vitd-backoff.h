/* vitd-backoff.h — the restart schedule of a supervised pipeline (pure logic, unit-tested). */
#pragma once

/* Seconds to wait before restart number ATTEMPT (0-based) of a pipeline that keeps failing:
 * INITIAL_S doubled per attempt, never above MAX_S. Non-positive or NaN bounds give 0. */
double vitd_backoff_delay(double initial_s, double max_s, unsigned attempt);
