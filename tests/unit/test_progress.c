/* kiln run's progress lines (src/report/console.c): each case's start and end, and the RUNNING
 * lines the ticker prints while a case runs, live on a TTY and as plain lines otherwise. The
 * ticker's clock is passed in (console_notifier_tick), so no wall clock decides a result. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "model/case.h"
#include "report/notifier.h"
#include "tap.h"
#include "util/fs.h"
#include "util/timeutil.h"
#include "util/util.h"

static int saved = -1;
static char path[] = "/tmp/test_progress-XXXXXX";

static void catch_stdout(void)
{
    fflush(stdout);
    int tmp = mkstemp(path);
    saved = dup(1);
    dup2(tmp, 1);
    close(tmp);
}

static char *caught(void)
{
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    char *text = NULL;
    read_file(path, 1 << 16, &text, NULL);
    unlink(path);
    strcpy(path, "/tmp/test_progress-XXXXXX");
    return text;
}

int main(void)
{
    struct kiln_result cases[2] = {
        {.id = "smoke", .started = 1000012, .status = ST_RUNNING},
        {.id = "verify_long", .started = 1000075, .status = ST_RUNNING},
    };
    struct kiln_results r = {.name = "demo", .dir = "runs/demo-1", .started = 1000000, .v = cases, .n = 2};

    /* plain lines (a pipe or file, or several cases at once): a start line with the time into
     * the run, a RUNNING line every every_s while it runs, the end line with its duration */
    struct console_notifier cn = {.out = stdout, .total = 2, .every_s = 60};
    pthread_mutex_init(&cn.lock, NULL);
    catch_stdout();
    double t0 = now_s();
    notifier_console.case_started(&cn, &r, &cases[0]);
    notifier_console.case_started(&cn, &r, &cases[1]);
    console_notifier_tick(&cn, t0 + 30);  /* nothing due yet */
    console_notifier_tick(&cn, t0 + 61.5); /* a minute: both */
    console_notifier_tick(&cn, t0 + 62);  /* not again within the minute */
    cases[0].status = ST_PASSED, cases[0].duration_s = 65.25;
    notifier_console.case_finished(&cn, &r, &cases[0], 1);
    console_notifier_tick(&cn, t0 + 185.5); /* two periods late: one line, the next due at 240 */
    console_notifier_tick(&cn, t0 + 200);
    cases[1].status = ST_FAILED, cases[1].duration_s = 190, cases[1].reason = "timed out\nmore";
    notifier_console.case_finished(&cn, &r, &cases[1], 2);
    char *text = caught();
    /* the ticks fall mid-second: the moment between t0 and each case's start (as the notifier
     * took it) cannot move a whole second */
    is_str(text,
           "  STARTED   smoke (12s into the run)\n"
           "  STARTED   verify_long (1m15s into the run)\n"
           "  RUNNING   smoke for 1m01s\n"
           "  RUNNING   verify_long for 1m01s\n"
           "[1/2] PASSED    smoke                               65.2s\n"
           "  RUNNING   verify_long for 3m05s\n"
           "[2/2] FAILED    verify_long                        190.0s  timed out\n",
           "plain: start, a RUNNING line a minute, the end with its duration");
    is_int(cn.nrunning, 0, "no case is left running");
    free(text);

    /* live (a TTY, one case at a time): the RUNNING line is rewritten in place every tick, and the
     * end line replaces it */
    struct console_notifier live = {.out = stdout, .tty = true, .live = true, .total = 1, .every_s = 60};
    pthread_mutex_init(&live.lock, NULL);
    cases[0].status = ST_RUNNING;
    catch_stdout();
    t0 = now_s();
    notifier_console.case_started(&live, &r, &cases[0]);
    console_notifier_tick(&live, t0 + 1.5);
    console_notifier_tick(&live, t0 + 2.5);
    cases[0].status = ST_PASSED, cases[0].duration_s = 2.75;
    notifier_console.case_finished(&live, &r, &cases[0], 1);
    text = caught();
    is_str(text,
           "  RUNNING   smoke ..."
           "\r\033[K  RUNNING   smoke ... 1s"
           "\r\033[K  RUNNING   smoke ... 2s"
           "\r\033[K[1/1] \033[32mPASSED   \033[0m smoke                                2.8s\n",
           "live: one line, its elapsed time ticking, then the end line");
    free(text);
    free(cn.running);
    free(live.running);
    return tap_done();
}
