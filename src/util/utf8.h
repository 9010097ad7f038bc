/* UTF-8 (RFC 3629) for text kiln did not write: test output, guest messages. Well-formed
 * sequences are those of the Unicode Standard, chapter 3, table 3-7 (no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the well-formed sequence at s[0..len), its code point in *cp; 0 when the
 * bytes there are not one (or len is 0). */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);

/* XML 1.0 section 2.2 Char: tab, LF, CR, U+0020..U+D7FF, U+E000..U+FFFD, U+10000..U+10FFFF. */
bool utf8_xml_char(uint32_t cp);

enum {
    UTF8_STRIP_ANSI = 1 << 0, /* drop terminal escape sequences (ECMA-48 CSI and OSC, ESC + one byte) */
    UTF8_XML = 1 << 1,        /* also replace code points XML 1.0 cannot hold (C0 controls, U+FFFE, U+FFFF) */
    UTF8_XML_DROP = 1 << 2,   /* as UTF8_XML, but drop those code points (and NUL) instead of replacing them */
};

/* A copy of s[0..len) that is well-formed UTF-8 and NUL-free: every maximal ill-formed
 * subsequence (and every NUL, unless UTF8_XML_DROP) becomes one U+FFFD, as the Unicode Standard recommends (3.9,
 * "U+FFFD Substitution of Maximal Subparts"); flags as above. Caller frees. */
char *utf8_sanitize(const char *s, size_t len, unsigned flags);

/* A copy of s[0..len) that cannot drive a terminal, for text from an image, a guest or a
 * server printed to a terminal or a log: C0 controls (but tab, and LF when keep_lf), DEL and
 * the bytes of ill-formed sequences become "\xNN", C1 controls (U+0080..U+009F: CSI and OSC
 * on some terminals) "\u00NN"; everything else is kept. Caller frees. */
char *utf8_escape_controls(const char *s, size_t len, bool keep_lf);

/* The longest prefix of the NUL-terminated s that is at most max bytes and does not end
 * inside a multibyte character. */
size_t utf8_cut(const char *s, size_t max);

/* Whether the user's locale names UTF-8 as its character set: the first of LC_ALL, LC_CTYPE and
 * LANG that is set and not empty ("C.UTF-8", "en_US.utf8"; POSIX's order of precedence). kiln
 * never calls setlocale; this only chooses the glyphs below. */
bool locale_utf8(void);
/* "→" in a UTF-8 locale, else "->" (a C/POSIX locale or a Latin-1 terminal shows mojibake). */
const char *text_arrow(void);
/* "…" in a UTF-8 locale, else "...". */
const char *text_ellipsis(void);
