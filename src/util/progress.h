/* Progress for long work, the way kiln shows it (kiln build, kiln convert -p, kiln publish,
 * kiln run's RUNNING lines): on a terminal one status line rewritten in place ("\r" and
 * "\033[K", cut to the terminal's width); anywhere else (CI logs, pipes) only whole lines,
 * few of them, never a carriage return or an escape sequence. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* v bytes for people, in binary units: "512 B", "38.0 MiB", "2.0 GiB". */
void human_bytes(uint64_t v, char *buf, size_t n);

/* "1.2 GiB of 2.0 GiB, 310.5 MiB/s" (of the total when total > 0, the rate when seconds >= 0.5
 * and done > 0), or "" when there are no bytes to tell (done and total 0). */
void progress_bytes_text(uint64_t done, uint64_t total, double seconds, char *buf, size_t n);

/* The live line: drawn only when tty; progress_clear before any other line is printed. */
struct progress_line {
    FILE *f;
    bool tty;
    int cols;              /* the terminal's width, 0: 80; a line is cut to cols - 1 characters */
    bool follow_width;     /* re-read cols from f's fd (TIOCGWINSZ) at each draw, so that a
                            * terminal resized mid-way (SIGWINCH) gets lines that fit */
    double min_gap_s;      /* redraws at most this often unless forced (0: 0.2 s) */
    double (*clock)(void); /* seconds, monotonic; NULL: now_s (a test passes its own) */
    double drawn_at;       /* when the line was last drawn */
    bool showing;          /* a live line is on the terminal now */
    uint64_t drawn_hash;   /* of the line on the terminal now: the same line is not drawn again */
    bool placeholder;      /* the line shown only holds the place (a stage's "..."): the next
                            * draw replaces it at once, whatever min_gap_s says */
};

/* Whether fd can carry a live line: a terminal (isatty) whose TERM is set and is not "dumb"
 * (the convention apt, dnf and systemd follow: a dumb terminal, an editor's shell, gets plain
 * lines as a pipe does). */
bool progress_live_ok(int fd);
/* The terminal's width on fd (TIOCGWINSZ), or 0 when it cannot be told. */
int progress_term_cols(int fd);
/* Draws text as the live line when p->tty: always when force, else when min_gap_s has passed
 * since the last draw. Control bytes (a newline, ESC) and ill-formed UTF-8 in text are drawn
 * escaped ("\x1b", util/utf8.h), a tab as a space, so the line stays one line of the terminal's
 * width and cannot drive the terminal.
 * Does nothing off a terminal. */
void progress_live(struct progress_line *p, bool force, const char *text);
/* A line in parts fitted to max bytes, for a terminal too narrow for all of it:
 *   who   the program ("kiln build: "), given up first: it is the user's own command;
 *   head  the work and its time ("[6/7] outputs 12 s"), kept while anything is;
 *   mid   on what: a file or package name (may be long; NULL: none), after mid_sep (NULL: ": ");
 *   tail  how far, items joined by ", " from most to least telling ("1.2 GiB of 2.0 GiB,
 *         300.0 MiB/s"; NULL or ""), after ", ".
 * What gives way, in order: who; mid is cut in its middle with an ellipsis (text_ellipsis),
 * keeping its start and its last bytes (a file's extension, a "(24/68)"), at least 6 bytes of it;
 * the tail's items but the first; mid; the tail's first item; then head is cut at the right.
 * With keep_who (a line that stays, among others that have who) who goes only after mid and
 * tail, before head is cut.
 * Widths count bytes (a character is at least one byte and no wider than its bytes); control
 * bytes and ill-formed UTF-8 come escaped, a tab as a space. Returns the line (caller frees). */
char *progress_fit(size_t max, const char *who, bool keep_who, const char *head, const char *mid_sep, const char *mid,
                   const char *tail);
/* The widest line that fits p's terminal: cols - 1 (a line as wide as the terminal wraps on
 * some terminals), 79 when cols is 0. */
size_t progress_max(const struct progress_line *p);
/* The live line from parts (progress_fit to the terminal's width). The rest as progress_live,
 * which is this with head = text alone. A line the same as the one on the terminal is not
 * drawn again. */
void progress_live_parts(struct progress_line *p, bool force, const char *who, const char *head, const char *mid,
                         const char *tail);
/* Takes the live line off the terminal (the cursor back at its start), so the next line
 * printed takes its place. */
void progress_clear(struct progress_line *p);
