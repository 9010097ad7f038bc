#include "util/utf8.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

/* Decodes one sequence; on failure *sub is the length of its maximal subpart (>= 1). */
static size_t decode(const unsigned char *s, size_t len, uint32_t *cp, size_t *sub)
{
    *sub = 1;
    if (!len) return 0;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) need = 2, lo = 0xA0;
    else if (c == 0xED) need = 2, hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF) need = 2;
    else if (c == 0xF0) need = 3, lo = 0x90;
    else if (c == 0xF4) need = 3, hi = 0x8F;
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else return 0;
    uint32_t v = c & (need == 1 ? 0x1F : need == 2 ? 0x0F : 0x07);
    for (size_t i = 1; i <= need; i++) {
        unsigned b = i < len ? s[i] : 0;
        if (i >= len || b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) {
            *sub = i;
            return 0;
        }
        v = (v << 6) | (b & 0x3F);
    }
    *cp = v;
    return need + 1;
}

size_t utf8_decode(const char *s, size_t len, uint32_t *cp)
{
    size_t sub;
    return decode((const unsigned char *)s, len, cp, &sub);
}

bool utf8_xml_char(uint32_t cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
           (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Length of the terminal escape sequence at s[0] == ESC (never past a newline). */
static size_t ansi_len(const char *s, size_t len)
{
    if (len < 2) return 1;
    size_t i;
    if (s[1] == '[') { /* CSI: parameter bytes, intermediate bytes, one final byte */
        for (i = 2; i < len && s[i] >= 0x20 && s[i] <= 0x3F; i++) {}
        return i < len && s[i] >= 0x40 && s[i] <= 0x7E ? i + 1 : i;
    }
    if (s[1] == ']') { /* OSC: up to BEL or ESC \ */
        for (i = 2; i < len && s[i] != '\a' && s[i] != '\n'; i++)
            if (s[i] == 0x1B && i + 1 < len && s[i + 1] == '\\') return i + 2;
        return i < len && s[i] == '\a' ? i + 1 : i;
    }
    return s[1] >= 0x20 && s[1] <= 0x7E ? 2 : 1;
}

char *utf8_sanitize(const char *s, size_t len, unsigned flags)
{
    static const char repl[] = "\xEF\xBF\xBD";
    struct sbuf b = {0};
    size_t i = 0, run = 0; /* bytes s[i - run .. i) are copied as they are */
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F) {
            i++, run++;
            continue;
        }
        uint32_t cp = 0;
        bool xml = flags & (UTF8_XML | UTF8_XML_DROP);
        size_t sub, k = decode((const unsigned char *)s + i, len - i, &cp, &sub);
        if (k && cp && (!xml || utf8_xml_char(cp)) && !(cp == 0x1B && (flags & UTF8_STRIP_ANSI))) {
            i += k, run += k;
            continue;
        }
        sbuf_append(&b, s + i - run, run);
        run = 0;
        if (cp == 0x1B && k && (flags & UTF8_STRIP_ANSI)) {
            i += ansi_len(s + i, len - i);
            continue;
        }
        /* well-formed, but a character XML cannot hold: a reader loses nothing it could show */
        if (k && (flags & UTF8_XML_DROP)) {
            i += k;
            continue;
        }
        sbuf_puts(&b, repl);
        i += k ? k : sub;
    }
    sbuf_append(&b, s + i - run, run);
    return sbuf_steal(&b);
}

char *utf8_escape_controls(const char *s, size_t len, bool keep_lf)
{
    struct sbuf b = {0};
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 0x20 && c < 0x7F) || c == '\t' || (c == '\n' && keep_lf)) {
            sbuf_append(&b, s + i, 1);
            i++;
            continue;
        }
        uint32_t cp = 0;
        size_t sub, k = c < 0x80 ? 0 : decode((const unsigned char *)s + i, len - i, &cp, &sub);
        if (c < 0x80) {
            sbuf_printf(&b, "\\x%02x", c);
            i++;
        } else if (!k) {
            for (size_t e = 0; e < sub; e++) sbuf_printf(&b, "\\x%02x", (unsigned char)s[i + e]);
            i += sub;
        } else if (cp < 0xA0) {
            sbuf_printf(&b, "\\u%04x", (unsigned)cp);
            i += k;
        } else {
            sbuf_append(&b, s + i, k);
            i += k;
        }
    }
    if (!b.s) sbuf_puts(&b, "");
    return sbuf_steal(&b);
}

size_t utf8_cut(const char *s, size_t max)
{
    size_t len = strnlen(s, max + 1);
    if (len <= max) return len;
    /* back up over continuation bytes to the start of the character that crosses max */
    size_t k = max;
    while (k > 0 && max - k < 3 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    return ((unsigned char)s[k] & 0xC0) == 0x80 ? max : k;
}

bool locale_utf8(void)
{
    const char *names[] = {"LC_ALL", "LC_CTYPE", "LANG"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        const char *v = getenv(names[i]);
        if (!v || !*v) continue;
        const char *dot = strchr(v, '.');
        if (!dot) return false;
        dot++;
        size_t n = strcspn(dot, "@");
        return (n == 5 && !strncasecmp(dot, "utf-8", 5)) || (n == 4 && !strncasecmp(dot, "utf8", 4));
    }
    return false;
}

const char *text_arrow(void) { return locale_utf8() ? "\u2192" : "->"; }
const char *text_ellipsis(void) { return locale_utf8() ? "\u2026" : "..."; }
