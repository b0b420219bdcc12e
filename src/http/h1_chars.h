/* Private to h1.c and h1_body.c: the character classes of RFC 9110/9112, one table lookup a
 * byte. */
#ifndef BATON_H1_CHARS_H
#define BATON_H1_CHARS_H

#define H1C_TCHAR 0x01 /* token character (RFC 9110 §5.6.2) */
#define H1C_VCHAR 0x02 /* visible ASCII, 0x21..0x7e */
#define H1C_FIELD 0x04 /* field-value byte: VCHAR, SP, HTAB, obs-text (0x80..0xff) */
#define H1C_HEX 0x08   /* HEXDIG */

extern const unsigned char h1_chars[256];

#endif
