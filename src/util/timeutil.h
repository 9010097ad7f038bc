#pragma once
#include <stdint.h>

int64_t now_ms(void);         /* monotonic */
double now_s(void);           /* monotonic, seconds */
void sleep_ms(int64_t ms);
/* "2026-11-21T08:30:00Z" for a wall-clock time in seconds. */
void format_utc(char buf[32], int64_t epoch_s);
int64_t wall_s(void);
